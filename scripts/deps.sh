#!/usr/bin/env bash
# Installs, pinned, the real peers and tools that the tests, the demo and lint use:
# Debian chromium, the node OpenID provider (npm ci), and Go-built tools (minio,
# staticcheck, benchstat) in a cache outside the repo, keyed by version so a new
# pin rebuilds. Idempotent: what is present at the right version is skipped.
# Prints one line per thing it installs (on stderr). With --env it also prints,
# on stdout, the variables a Makefile or shell may export, e.g.
#   eval "$(bash scripts/deps.sh --env)"
# internal/testenv finds the binaries itself, so the tests need none of them.
set -euo pipefail

# Pins. internal/testenv/minio's Version must equal MINIO_VERSION (a test checks).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_VERSION=v0.8.2
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
CHROMIUM_MAJOR=156
NODE_MIN_MAJOR=20 # oidc-provider 9 needs node >= 20.12 (crypto.hash)

print_env=0
for arg in "$@"; do
	case $arg in
	--env) print_env=1 ;;
	*) echo "usage: $0 [--env]" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
bin=$tools/bin
mkdir -p "$bin"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

# run LOG CMD...: runs quietly; on failure shows the end of the log.
run() {
	local log=$1; shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $*"
	fi
}

sudo=()
if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi

# --- chromium (Debian) -------------------------------------------------------
if [ ! -x /usr/bin/chromium ]; then
	# Only refresh the package lists when they do not offer the pinned major.
	if ! apt-cache madison chromium 2>/dev/null | grep -q "| ${CHROMIUM_MAJOR}\."; then
		run /tmp/awsauth-apt-update.log "${sudo[@]}" apt-get update -qq
	fi
	run /tmp/awsauth-apt-chromium.log env DEBIAN_FRONTEND=noninteractive \
		"${sudo[@]}" apt-get install -y -qq --no-install-recommends "chromium=${CHROMIUM_MAJOR}.*"
	say "installed chromium $(dpkg-query -W -f='${Version}' chromium)"
fi

# --- node OpenID provider ----------------------------------------------------
command -v node >/dev/null || die "node >= $NODE_MIN_MAJOR is required (not found on PATH)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MIN_MAJOR" ] || die "node >= $NODE_MIN_MAJOR is required, found $(node --version)"
oidc=$root/internal/testenv/oidc
if [ ! -d "$oidc/node_modules" ] || [ "$oidc/package-lock.json" -nt "$oidc/node_modules" ]; then
	(cd "$oidc" && run /tmp/awsauth-npm-ci.log npm ci --no-audit --no-fund --loglevel=error)
	touch "$oidc/node_modules" # npm ci may leave an older mtime; this marks "up to date"
	say "installed oidc-provider $(node -p "require('$oidc/node_modules/oidc-provider/package.json').version")"
fi

# --- Go tools ----------------------------------------------------------------
export GOFLAGS=-buildvcs=false
gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin=$(go env GOPATH)/bin

# go_tool NAME MODULE PACKAGE VERSION: builds PACKAGE@VERSION into bin/NAME-VERSION,
# and points bin/NAME at it. A binary already in GOBIN is reused only when its
# embedded build info names exactly this module version (minio --version says
# DEVELOPMENT.GOGET for any go install build, so it can't be trusted for this).
go_tool() {
	local name=$1 module=$2 pkg=$3 version=$4
	local dst=$bin/$name-$version
	if [ ! -x "$dst" ]; then
		local have=$gobin/$name
		if [ -x "$have" ] && go version -m "$have" 2>/dev/null |
			grep -qP "^\tmod\t\Q$module\E\t\Q$version\E(\t|$)"; then
			cp "$have" "$dst.tmp"
			mv "$dst.tmp" "$dst"
			say "installed $name $version (copied from $have)"
		else
			local tmp
			tmp=$(mktemp -d)
			run "$tmp.log" env GOBIN="$tmp" go install "$pkg@$version"
			mv "$tmp/$name" "$dst"
			rm -rf "$tmp" "$tmp.log"
			say "installed $name $version"
		fi
	fi
	ln -sfn "$name-$version" "$bin/$name"
}

go_tool minio github.com/minio/minio github.com/minio/minio "$MINIO_VERSION"
go_tool staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
go_tool benchstat golang.org/x/perf golang.org/x/perf/cmd/benchstat "$BENCHSTAT_VERSION"

# --- per-peer installers --------------------------------------------------------
# Each scripts/deps.d/NAME.sh installs one peer, pinned and idempotent, with the
# same conventions (AWSAUTH_TOOLS cache, one "deps:" line per install).
for f in "$root"/scripts/deps.d/*.sh; do
	[ -e "$f" ] || continue
	AWSAUTH_TOOLS=$tools bash "$f"
done

if [ "$print_env" = 1 ]; then
	echo "AWSAUTH_TOOLS=$tools"
	echo "AWSAUTH_MINIO=$bin/minio-$MINIO_VERSION"
	echo "AWSAUTH_CHROMIUM=/usr/bin/chromium"
	echo "AWSAUTH_NODE=$(command -v node)"
	echo "STATICCHECK=$bin/staticcheck-$STATICCHECK_VERSION"
	echo "BENCHSTAT=$bin/benchstat-$BENCHSTAT_VERSION"
fi
