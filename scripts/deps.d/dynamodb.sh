#!/usr/bin/env bash
# Installs the local DynamoDB peer, pinned, into the tools cache:
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/dynalite-$DYNALITE_VERSION/node_modules/dynalite/cli.js
# internal/testenv's StartDynamoDB runs it with node (or $AWSAUTH_DYNALITE, the
# path of a cli.js).
#
# Why dynalite and not Amazon's DynamoDB Local: DynamoDB Local (Maven Central
# com.amazonaws:DynamoDBLocal) ships under Amazon's own licence terms, not an
# open-source licence, and this project's package rules say not to use it.
# dynalite (npm, Apache-2.0, LevelDB-backed) speaks the same DynamoDB JSON
# protocol; with --path its data survives a restart, and it keeps one database
# for every access key (DynamoDB Local's -sharedDb).
#
# Pinned: dynalite itself exactly; its dependencies (version ranges) as npm
# resolved them on NPM_BEFORE, so a later release of one of them changes nothing.
# Idempotent: an install marked complete is kept; a half-made one is rebuilt.
# internal/testenv's DynaliteVersion must equal DYNALITE_VERSION (a test checks).
set -euo pipefail

DYNALITE_VERSION=4.0.0
NPM_BEFORE=2026-11-01
NODE_MIN_MAJOR=20 # dynalite 4 needs node >= 20

tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
dir=$tools/dynalite-$DYNALITE_VERSION
stamp=$dir/.awsauth-complete
mkdir -p "$tools"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

if [ -f "$stamp" ] && [ -f "$dir/node_modules/dynalite/cli.js" ]; then
	exit 0
fi

command -v node >/dev/null || die "node >= $NODE_MIN_MAJOR is required for dynalite (not found on PATH)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MIN_MAJOR" ] || die "node >= $NODE_MIN_MAJOR is required for dynalite, found $(node --version)"

# Built beside the target and moved into place, so a failure leaves nothing
# that looks installed.
tmp=$(mktemp -d "$tools/.dynalite-XXXXXX")
log=$(mktemp /tmp/awsauth-dynalite.XXXXXX.log)
trap 'rm -rf "$tmp"' EXIT
echo '{"private": true}' >"$tmp/package.json"
if ! (cd "$tmp" && npm install --no-audit --no-fund --loglevel=error --save-exact \
	--before="$NPM_BEFORE" "dynalite@$DYNALITE_VERSION") >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	die "failed: npm install dynalite@$DYNALITE_VERSION (log: $log)"
fi
rm -f "$log"
got=$(node -p "require('$tmp/node_modules/dynalite/package.json').version")
[ "$got" = "$DYNALITE_VERSION" ] || die "installed dynalite $got, want $DYNALITE_VERSION"
# LevelDB comes as classic-level's prebuilt N-API binary; load it now so a
# platform without one fails here rather than in a test.
(cd "$tmp" && node -e "require('classic-level')") || die "dynalite's LevelDB binding (classic-level) does not load here"
touch "$tmp/.awsauth-complete"
rm -rf "$dir"
mv "$tmp" "$dir"
say "installed dynalite $DYNALITE_VERSION in $dir"
