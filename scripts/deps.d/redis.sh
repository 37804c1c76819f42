#!/usr/bin/env bash
# Installs the Redis peer, pinned to Debian 12's major version, from apt:
#   /usr/bin/redis-server (Debian redis-server 5:7.0.*)
# internal/testenv's StartRedis runs it (or $AWSAUTH_REDIS) on a free loopback
# port with its own config and data dir; the Debian service is not used (and is
# stopped and disabled if the package's post-install started one).
# Idempotent: an installed redis-server of the pinned major is kept. The package
# lists are refreshed only when apt-cache does not offer the pin.
# internal/testenv's RedisMajor must equal REDIS_MAJOR (a test checks).
set -euo pipefail

REDIS_MAJOR=7.0
REDIS_PIN="5:${REDIS_MAJOR}.*"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

sudo=()
if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi

have=$(dpkg-query -W -f='${Version}' redis-server 2>/dev/null || true)
case $have in
"5:${REDIS_MAJOR}."*) exit 0 ;;
esac

log=$(mktemp /tmp/awsauth-redis.XXXXXX.log)
if ! apt-cache madison redis-server 2>/dev/null | grep -q "| 5:${REDIS_MAJOR}\."; then
	"${sudo[@]}" apt-get update -qq >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "failed: apt-get update"; }
fi
if ! env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
	"redis-server=${REDIS_PIN}" "redis-tools=${REDIS_PIN}" >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "failed: apt-get install redis-server=${REDIS_PIN} (log: $log)"
fi
rm -f "$log"
# The tests start their own servers; a system service would only hold port 6379.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
	"${sudo[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
say "installed redis-server $(dpkg-query -W -f='${Version}' redis-server)"
