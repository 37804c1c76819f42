#!/usr/bin/env bash
# Installs cfn-lint (pinned, from PyPI) into a Python virtual environment in
# the tools cache (scripts/pyvenv.sh says how):
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/cfn-lint-$CFNLINT_VERSION/            the venv
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin/cfn-lint-$CFNLINT_VERSION  -> its cfn-lint
# examples/infra's test runs that binary (or $AWSAUTH_CFNLINT) on template.yaml.
# Every transitive dependency is pinned by cfnlint-constraints.txt beside this
# script. examples/infra's CFNLintVersion must equal CFNLINT_VERSION (a test checks).
set -euo pipefail

CFNLINT_VERSION=1.58.0
PYTHON_MIN=3.11 # cfn-lint 1.58 supports Python 3.10 to 3.14; the pinned networkx 3.6.1 and regex need >= 3.11

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../pyvenv.sh
. "$here/../pyvenv.sh"

installed_version() { "$1/bin/cfn-lint" --version 2>&1 | awk '{print $2}'; }

pip_tool cfn-lint "$CFNLINT_VERSION" "cfn-lint==$CFNLINT_VERSION" cfn-lint "$here/cfnlint-constraints.txt"
