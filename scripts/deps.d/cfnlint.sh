#!/usr/bin/env bash
# Installs cfn-lint (pinned, from PyPI) into a Python virtual environment in
# the tools cache, so it never touches the system's Python:
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/cfn-lint-$CFNLINT_VERSION/            the venv
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin/cfn-lint-$CFNLINT_VERSION  -> its cfn-lint
# examples/infra's test runs that binary (or $AWSAUTH_CFNLINT) on template.yaml.
# Idempotent: a venv marked complete is kept; a half-made one is rebuilt.
# examples/infra's CFNLintVersion must equal CFNLINT_VERSION (a test checks).
set -euo pipefail

CFNLINT_VERSION=1.58.0
PYTHON_MIN=3.9 # cfn-lint 1.x supports Python >= 3.9

tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
bin=$tools/bin
venv=$tools/cfn-lint-$CFNLINT_VERSION
stamp=$venv/.awsauth-complete
mkdir -p "$bin"

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

if [ ! -f "$stamp" ] || [ ! -x "$venv/bin/cfn-lint" ]; then
	python=${AWSAUTH_PYTHON:-$(command -v python3 || true)}
	[ -n "$python" ] || die "python3 >= $PYTHON_MIN is required for cfn-lint (not found on PATH)"
	"$python" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$PYTHON_MIN'.split('.'))))" ||
		die "python3 >= $PYTHON_MIN is required for cfn-lint, found $("$python" --version 2>&1)"
	log=$(mktemp /tmp/awsauth-cfnlint.XXXXXX.log)
	# A venv records its own path in its scripts, so it is built in place; the
	# stamp, written last, says it is complete.
	rm -rf "$venv"
	if ! { "$python" -m venv "$venv" &&
		"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
			"cfn-lint==$CFNLINT_VERSION"; } >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$venv"
		die "failed: pip install cfn-lint==$CFNLINT_VERSION (log: $log)"
	fi
	rm -f "$log"
	got=$("$venv/bin/cfn-lint" --version 2>&1 | awk '{print $2}')
	[ "$got" = "$CFNLINT_VERSION" ] || die "installed cfn-lint $got, want $CFNLINT_VERSION"
	touch "$stamp"
	say "installed cfn-lint $CFNLINT_VERSION in $venv"
fi
ln -sfn "../cfn-lint-$CFNLINT_VERSION/bin/cfn-lint" "$bin/cfn-lint-$CFNLINT_VERSION"
