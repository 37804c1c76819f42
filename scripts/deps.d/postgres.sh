#!/usr/bin/env bash
# Installs the PostgreSQL peer, pinned to Debian 12's major version, from apt:
#   /usr/lib/postgresql/15/bin/{initdb,postgres,pg_ctl} (Debian postgresql-15)
# internal/testenv's StartPostgres runs them (or those in $AWSAUTH_PGBIN) as the
# postgres user (PostgreSQL refuses to run as root) in a fresh data directory on
# a free loopback port; the Debian cluster and service are not used.
# Idempotent: an installed postgresql-15 is kept. The package lists are
# refreshed only when apt-cache does not offer the pin.
# internal/testenv's PostgresMajor must equal PG_MAJOR (a test checks).
set -euo pipefail

PG_MAJOR=15

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

sudo=()
if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi

if dpkg-query -W -f='${Status}' "postgresql-${PG_MAJOR}" 2>/dev/null | grep -q 'install ok installed' &&
	[ -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres" ]; then
	exit 0
fi

log=$(mktemp /tmp/awsauth-postgres.XXXXXX.log)
if ! apt-cache madison "postgresql-${PG_MAJOR}" 2>/dev/null | grep -q "| ${PG_MAJOR}\."; then
	"${sudo[@]}" apt-get update -qq >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "failed: apt-get update"; }
fi
if ! env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
	"postgresql-${PG_MAJOR}" >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "failed: apt-get install postgresql-${PG_MAJOR} (log: $log)"
fi
rm -f "$log"
id postgres >/dev/null 2>&1 || die "postgresql-${PG_MAJOR} installed but there is no postgres user"
say "installed postgresql-${PG_MAJOR} $(dpkg-query -W -f='${Version}' "postgresql-${PG_MAJOR}")"
