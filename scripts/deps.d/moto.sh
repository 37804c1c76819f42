#!/usr/bin/env bash
# Installs moto server (pinned, from PyPI) into a Python virtual environment in
# the tools cache, so it never touches the system's Python:
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/moto-$MOTO_VERSION/      the venv
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin/moto_server-$MOTO_VERSION  -> its moto_server
# internal/testenv's StartMoto runs that binary (or $AWSAUTH_MOTO).
# Every transitive dependency is pinned by moto-constraints.txt beside this
# script (pip install -c); a dependency installed that the file does not pin
# fails the install, so a new moto dependency is noticed, not left to float.
# Idempotent: a venv whose stamp holds the constraints file's SHA-256 is kept;
# a half-made one, or one made from other pins, is rebuilt.
# internal/testenv's MotoVersion must equal MOTO_VERSION (a test checks).
set -euo pipefail

MOTO_VERSION=5.2.5
PYTHON_MIN=3.11 # moto 5 supports Python >= 3.9; the pinned networkx 3.6.1 and regex need >= 3.11

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
constraints=$here/moto-constraints.txt
tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
bin=$tools/bin
venv=$tools/moto-$MOTO_VERSION
stamp=$venv/.awsauth-complete
mkdir -p "$bin"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

# pins FILE: the package==version lines of a constraints file or of pip
# freeze, names normalized (PEP 503: lower case, runs of -_. as -), sorted.
pins() { awk -F'==' '!/^[[:space:]]*(#|$)/ { n = tolower($1); gsub(/[-_.]+/, "-", n); gsub(/[[:space:]]/, "", n); gsub(/[[:space:]]/, "", $2); print n "==" $2 }' "$1" | sort -u; }

[ -f "$constraints" ] || die "missing $constraints"
want=$(sha256sum "$constraints" | awk '{print $1}')

if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] || [ ! -x "$venv/bin/moto_server" ]; then
	python=${AWSAUTH_PYTHON:-$(command -v python3 || true)}
	[ -n "$python" ] || die "python3 >= $PYTHON_MIN is required for moto (not found on PATH)"
	"$python" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$PYTHON_MIN'.split('.'))))" ||
		die "python3 >= $PYTHON_MIN is required for moto, found $("$python" --version 2>&1)"
	log=$(mktemp /tmp/awsauth-moto.XXXXXX.log)
	# A venv records its own path in its scripts, so it is built in place; the
	# stamp, written last, says it is complete and from which pins.
	rm -rf "$venv"
	if ! { "$python" -m venv "$venv" &&
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
			-c "$constraints" "moto[server]==$MOTO_VERSION"; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$venv"
		die "failed: pip install -c $constraints moto[server]==$MOTO_VERSION (log: $log)"
	fi
	rm -f "$log"
	got=$("$venv/bin/python" -c 'import moto; print(moto.__version__)')
	[ "$got" = "$MOTO_VERSION" ] || { rm -rf "$venv"; die "installed moto $got, want $MOTO_VERSION"; }
	frozen=$(mktemp /tmp/awsauth-moto.XXXXXX.freeze)
	"$venv/bin/pip" freeze --disable-pip-version-check --exclude moto >"$frozen"
	unpinned=$(comm -23 <(pins "$frozen") <(pins "$constraints") | paste -sd " " -)
	rm -f "$frozen"
	[ -z "$unpinned" ] || { rm -rf "$venv"; die "moto: installed packages that $constraints does not pin: $unpinned"; }
	echo "$want" >"$stamp"
	say "installed moto[server] $MOTO_VERSION in $venv (pins: $(basename "$constraints"))"
fi
ln -sfn "../moto-$MOTO_VERSION/bin/moto_server" "$bin/moto_server-$MOTO_VERSION"
