#!/usr/bin/env bash
# Installs moto server (pinned, from PyPI) into a Python virtual environment in
# the tools cache, so it never touches the system's Python:
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/moto-$MOTO_VERSION/      the venv
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin/moto_server-$MOTO_VERSION  -> its moto_server
# internal/testenv's StartMoto runs that binary (or $AWSAUTH_MOTO).
# Idempotent: a venv marked complete is kept; a half-made one is rebuilt.
# internal/testenv's MotoVersion must equal MOTO_VERSION (a test checks).
set -euo pipefail

MOTO_VERSION=5.2.5
PYTHON_MIN=3.9 # moto 5 supports Python >= 3.9

tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
bin=$tools/bin
venv=$tools/moto-$MOTO_VERSION
stamp=$venv/.awsauth-complete
mkdir -p "$bin"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

if [ ! -f "$stamp" ] || [ ! -x "$venv/bin/moto_server" ]; then
	python=${AWSAUTH_PYTHON:-$(command -v python3 || true)}
	[ -n "$python" ] || die "python3 >= $PYTHON_MIN is required for moto (not found on PATH)"
	"$python" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$PYTHON_MIN'.split('.'))))" ||
		die "python3 >= $PYTHON_MIN is required for moto, found $("$python" --version 2>&1)"
	log=$(mktemp /tmp/awsauth-moto.XXXXXX.log)
	# A venv records its own path in its scripts, so it is built in place; the
	# stamp, written last, says it is complete.
	rm -rf "$venv"
	if ! { "$python" -m venv "$venv" &&
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
			"moto[server]==$MOTO_VERSION"; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$venv"
		die "failed: pip install moto[server]==$MOTO_VERSION (log: $log)"
	fi
	rm -f "$log"
	got=$("$venv/bin/python" -c 'import moto; print(moto.__version__)')
	[ "$got" = "$MOTO_VERSION" ] || die "installed moto $got, want $MOTO_VERSION"
	touch "$stamp"
	say "installed moto[server] $MOTO_VERSION in $venv"
fi
ln -sfn "../moto-$MOTO_VERSION/bin/moto_server" "$bin/moto_server-$MOTO_VERSION"
