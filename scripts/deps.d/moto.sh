#!/usr/bin/env bash
# Installs moto server (pinned, from PyPI) into a Python virtual environment in
# the tools cache (scripts/pyvenv.sh says how):
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/moto-$MOTO_VERSION/      the venv
#   ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/bin/moto_server-$MOTO_VERSION  -> its moto_server
# internal/testenv's StartMoto runs that binary (or $AWSAUTH_MOTO). Every
# transitive dependency is pinned by moto-constraints.txt beside this script.
# internal/testenv's MotoVersion must equal MOTO_VERSION (a test checks).
set -euo pipefail

MOTO_VERSION=5.2.5
PYTHON_MIN=3.11 # moto 5 supports Python >= 3.9; the pinned networkx 3.6.1 and regex need >= 3.11

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../pyvenv.sh
. "$here/../pyvenv.sh"

installed_version() { "$1/bin/python" -c 'import moto; print(moto.__version__)'; }

pip_tool moto "$MOTO_VERSION" "moto[server]==$MOTO_VERSION" moto_server "$here/moto-constraints.txt"
