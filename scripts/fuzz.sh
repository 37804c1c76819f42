#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each: a count of
# executions such as 20000x (the default), or a duration such as 1m.
# Targets are found by name, so a new FuzzX is picked up without editing this.
#
# Go 1.26's fuzz coordinator can end a duration-bounded run with a bare
# "context deadline exceeded" failure when a worker is mid-input as the
# deadline fires (golang/go#75804, fixed in Go 1.27). A count has no deadline,
# which is why the default is one. For a duration, a failure counts only when
# go test wrote a reproducer to testdata/fuzz/TARGET, as it does for every
# crash, hang or failed check; a bare deadline failure is reported and retried
# once with a count.
#
# Every failure says what failed: a failing target prints go test's output; a
# command of this script that fails, or a signal that stops it, prints the
# command (or signal), the target it was on and go test's output so far, before
# the log holding that output is removed.
set -eEuo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20000x}
log=$(mktemp /tmp/awsauth-fuzz.XXXXXX.log)
current="(none yet)"

# show_log: go test's output for the current target, if any.
show_log() {
	if [ -s "$log" ]; then
		echo "fuzz: go test output for $current:"
		cat "$log"
	fi
}
on_err() {
	[ "$BASHPID" = $$ ] || return 0 # a command substitution's shell: its parent reports
	echo "fuzz: FAILED: line $2: '$3' exited $1 (target: $current)" >&2
	show_log >&2
	trap - ERR
}
on_signal() {
	echo "fuzz: FAILED: stopped by SIG$1 (target: $current)" >&2
	show_log >&2
	trap - EXIT
	rm -f "$log"
	trap - "$1"
	kill -s "$1" $$
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
trap 'rm -f "$log"' EXIT
for sig in INT TERM HUP; do
	# shellcheck disable=SC2064 # $sig is meant to expand now
	trap "on_signal $sig" "$sig"
done

# corpus PKG TARGET: the reproducers go test has written for TARGET.
corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null || true; }

# fuzz PKG TARGET TIME: runs one target; exit status as go test's.
fuzz() { go test -run='^$' -fuzz="^${2}\$" -fuzztime="$3" "$1" >"$log" 2>&1; }

# The files with fuzz targets; listing them must not fail quietly, nor find none.
tests=$(git ls-files '*_test.go')
mapfile -t tests <<<"$tests"
files=$(grep -l '^func Fuzz' "${tests[@]}") || {
	s=$? # 1: no file matched (checked below); more: an error
	[ "$s" = 1 ] || { echo "fuzz: FAILED: grep for fuzz targets exited $s" >&2; exit 1; }
}
mapfile -t files <<<"$files"
[ -n "${files[0]}" ] || { echo "fuzz: FAILED: no func Fuzz in the *_test.go files git lists" >&2; exit 1; }

failed=()
for file in "${files[@]}"; do
	pkg=./$(dirname "$file")
	targets=$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]+)\(.*/\1/p' "$file")
	mapfile -t targets <<<"$targets"
	for target in "${targets[@]}"; do
		current="$pkg $target"
		echo "fuzz: $pkg $target ($fuzztime)"
		before=$(corpus "$pkg" "$target")
		if fuzz "$pkg" "$target" "$fuzztime"; then
			continue
		fi
		if [[ $fuzztime != *x ]] && [ "$(corpus "$pkg" "$target")" = "$before" ] &&
			grep -q '^    context deadline exceeded$' "$log"; then
			echo "fuzz: $pkg $target: deadline race of the Go fuzz coordinator (golang/go#75804), no reproducer; again with 20000x"
			if fuzz "$pkg" "$target" 20000x; then
				continue
			fi
		fi
		echo "fuzz: FAIL: $pkg $target"
		cat "$log"
		failed+=("$pkg $target")
	done
done
current="(done)"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}"
	exit 1
fi
