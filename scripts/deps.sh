#!/usr/bin/env bash
# Installs, pinned, the real peers and tools in a cache outside the repo, keyed
# by version so a new pin rebuilds. Idempotent: what is present at the right
# version is skipped. Prints one line per thing it installs (on stderr).
#
#   bash scripts/deps.sh demo   what `make demo` and `make dev` run: Debian
#                               chromium, the node OpenID provider (npm ci) and
#                               MinIO (go install)
#   bash scripts/deps.sh [test] what `make test` runs: the demo's, plus
#                               staticcheck and benchstat (go install) and every
#                               peer in scripts/deps.d (moto, cfn-lint, dynalite,
#                               Redis, PostgreSQL)
#
# With --env it also prints, on stdout, the variables a Makefile or shell may
# export for what that part installs, e.g.
#   eval "$(bash scripts/deps.sh --env)"
# internal/testenv finds the binaries itself, so the tests need none of them.
set -euo pipefail

# Pins. internal/testenv/minio's Version must equal MINIO_VERSION (a test checks).
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
STATICCHECK_VERSION=v0.8.2
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
CHROMIUM_MAJOR=156
NODE_MIN_MAJOR=20 # oidc-provider 9 needs node >= 20.12 (crypto.hash)

usage() { echo "usage: $0 [demo|test] [--env]" >&2; exit 2; }
part="test"
print_env=0
for arg in "$@"; do
	case $arg in
	--env) print_env=1 ;;
	demo | test) part=$arg ;;
	*) usage ;;
	esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
bin=$tools/bin
mkdir -p "$bin"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

# run NAME CMD...: runs CMD quietly, its output in a log of its own (runs on
# other checkouts may install at the same time); on failure shows the end of
# the log and keeps it.
run() {
	local log
	log=$(mktemp "/tmp/awsauth-$1.XXXXXX.log")
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "failed: $* (log: $log)"
	fi
	rm -f "$log"
}

sudo=()
if [ "$(id -u)" != 0 ]; then sudo=(sudo); fi

# --- chromium (Debian) -------------------------------------------------------
install_chromium() {
	[ ! -x /usr/bin/chromium ] || return 0
	# Only refresh the package lists when they do not offer the pinned major.
	if ! apt-cache madison chromium 2>/dev/null | grep "| ${CHROMIUM_MAJOR}\." >/dev/null; then
		run apt-update "${sudo[@]}" apt-get update -qq
	fi
	run apt-chromium env DEBIAN_FRONTEND=noninteractive \
		"${sudo[@]}" apt-get install -y -qq --no-install-recommends "chromium=${CHROMIUM_MAJOR}.*"
	say "installed chromium $(dpkg-query -W -f='${Version}' chromium)"
}

# --- node OpenID provider ----------------------------------------------------
install_oidc_provider() {
	command -v node >/dev/null || die "node >= $NODE_MIN_MAJOR is required (not found on PATH)"
	local node_major
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$node_major" -ge "$NODE_MIN_MAJOR" ] || die "node >= $NODE_MIN_MAJOR is required, found $(node --version)"
	local oidc=$root/internal/testenv/oidc
	if [ ! -d "$oidc/node_modules" ] || [ "$oidc/package-lock.json" -nt "$oidc/node_modules" ]; then
		(cd "$oidc" && run npm-ci npm ci --no-audit --no-fund --loglevel=error)
		touch "$oidc/node_modules" # npm ci may leave an older mtime; this marks "up to date"
		say "installed oidc-provider $(node -p "require('$oidc/node_modules/oidc-provider/package.json').version")"
	fi
}

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
		# grep reads all of go version's output (no -q): under pipefail, a grep
		# that quit at the first match could fail the pipeline with SIGPIPE.
		if [ -x "$have" ] && go version -m "$have" 2>/dev/null |
			grep -P "^\tmod\t\Q$module\E\t\Q$version\E(\t|$)" >/dev/null; then
			cp "$have" "$dst.$$.tmp"
			mv "$dst.$$.tmp" "$dst"
			say "installed $name $version (copied from $have)"
		else
			local tmp
			tmp=$(mktemp -d)
			run "go-install-$name" env GOBIN="$tmp" go install "$pkg@$version"
			mv "$tmp/$name" "$dst"
			rm -rf "$tmp"
			say "installed $name $version"
		fi
	fi
	ln -sfn "$name-$version" "$bin/$name"
}

# --- the demo's part: the provider, MinIO, Chromium --------------------------
install_chromium
install_oidc_provider
go_tool minio github.com/minio/minio github.com/minio/minio "$MINIO_VERSION"

# --- the tests' part: the rest -----------------------------------------------
if [ "$part" = test ]; then
	go_tool staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
	go_tool benchstat golang.org/x/perf golang.org/x/perf/cmd/benchstat "$BENCHSTAT_VERSION"

	# Each scripts/deps.d/NAME.sh installs one peer, pinned and idempotent, with the
	# same conventions (AWSAUTH_TOOLS cache, one "deps:" line per install).
	for f in "$root"/scripts/deps.d/*.sh; do
		[ -e "$f" ] || continue
		AWSAUTH_TOOLS=$tools bash "$f" || die "failed: $f"
	done
fi

if [ "$print_env" = 1 ]; then
	echo "AWSAUTH_TOOLS=$tools"
	echo "AWSAUTH_MINIO=$bin/minio-$MINIO_VERSION"
	echo "AWSAUTH_CHROMIUM=/usr/bin/chromium"
	echo "AWSAUTH_NODE=$(command -v node)"
	if [ "$part" = test ]; then
		echo "STATICCHECK=$bin/staticcheck-$STATICCHECK_VERSION"
		echo "BENCHSTAT=$bin/benchstat-$BENCHSTAT_VERSION"
	fi
fi
