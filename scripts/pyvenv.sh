# Sourced by scripts/deps.d/*.sh (not run on its own): installs one pinned
# Python tool from PyPI into a virtual environment in the tools cache, so it
# never touches the system's Python.
#
#   pip_tool NAME VERSION REQUIREMENT EXE CONSTRAINTS
#
# builds ${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}/NAME-VERSION/ with
# `pip install -c CONSTRAINTS REQUIREMENT` and links bin/EXE-VERSION to its
# bin/EXE. Every transitive dependency must be pinned by CONSTRAINTS: one
# installed that the file does not pin fails the install, so a new dependency
# is noticed, not left to float. The caller defines installed_version VENV,
# which prints the tool's own version, checked against VERSION. PYTHON_MIN
# (e.g. 3.11) bounds the Python used ($AWSAUTH_PYTHON, else python3).
# Idempotent: a venv whose stamp holds the constraints file's SHA-256 is kept;
# a half-made one, or one made from other pins, is rebuilt.

say() { echo "deps: $*" >&2; }
die() { echo "deps: $*" >&2; exit 1; }

# pins FILE: the package==version lines of a constraints file or of pip
# freeze, names normalized (PEP 503: lower case, runs of -_. as -), sorted.
pins() { awk -F'==' '!/^[[:space:]]*(#|$)/ { n = tolower($1); gsub(/[-_.]+/, "-", n); gsub(/[[:space:]]/, "", n); gsub(/[[:space:]]/, "", $2); print n "==" $2 }' "$1" | sort -u; }

pip_tool() {
	local name=$1 version=$2 requirement=$3 exe=$4 constraints=$5
	local tools=${AWSAUTH_TOOLS:-$HOME/.cache/awsauth}
	local bin=$tools/bin venv=$tools/$name-$version
	local stamp=$venv/.awsauth-complete
	mkdir -p "$bin"
	[ -f "$constraints" ] || die "missing $constraints"
	local want
	want=$(sha256sum "$constraints" | awk '{print $1}')

	if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] || [ ! -x "$venv/bin/$exe" ]; then
		local python=${AWSAUTH_PYTHON:-$(command -v python3 || true)}
		[ -n "$python" ] || die "python3 >= $PYTHON_MIN is required for $name (not found on PATH)"
		"$python" -c "import sys; sys.exit(sys.version_info < tuple(map(int, '$PYTHON_MIN'.split('.'))))" ||
			die "python3 >= $PYTHON_MIN is required for $name, found $("$python" --version 2>&1)"
		local log
		log=$(mktemp "/tmp/awsauth-$name.XXXXXX.log")
		# A venv records its own path in its scripts, so it is built in place;
		# the stamp, written last, says it is complete and from which pins.
		rm -rf "$venv"
		if ! { "$python" -m venv "$venv" &&
			"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
				-c "$constraints" "$requirement"; } >"$log" 2>&1; then
			tail -n 40 "$log" >&2
			rm -rf "$venv"
			die "failed: pip install -c $constraints $requirement (log: $log)"
		fi
		rm -f "$log"
		local got
		got=$(installed_version "$venv")
		[ "$got" = "$version" ] || { rm -rf "$venv"; die "installed $name $got, want $version"; }
		local frozen unpinned
		frozen=$(mktemp "/tmp/awsauth-$name.XXXXXX.freeze")
		"$venv/bin/pip" freeze --disable-pip-version-check --exclude "$name" >"$frozen"
		unpinned=$(comm -23 <(pins "$frozen") <(pins "$constraints") | paste -sd " " -)
		rm -f "$frozen"
		[ -z "$unpinned" ] || { rm -rf "$venv"; die "$name: installed packages that $constraints does not pin: $unpinned"; }
		echo "$want" >"$stamp"
		say "installed $requirement in $venv (pins: $(basename "$constraints"))"
	fi
	ln -sfn "../$name-$version/bin/$exe" "$bin/$exe-$version"
}
