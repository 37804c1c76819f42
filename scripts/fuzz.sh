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
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20000x}
log=$(mktemp /tmp/awsauth-fuzz.XXXXXX.log)
trap 'rm -f "$log"' EXIT
status=0

# corpus PKG TARGET: the reproducers go test has written for TARGET.
corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null || true; }

# fuzz PKG TARGET TIME: runs one target; exit status as go test's.
fuzz() { go test -run='^$' -fuzz="^${2}\$" -fuzztime="$3" "$1" >"$log" 2>&1; }

while read -r file; do
	pkg=./$(dirname "$file")
	for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
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
		cat "$log"
		status=1
	done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz')
exit $status
