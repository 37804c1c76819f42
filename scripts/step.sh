#!/usr/bin/env bash
# Runs one step of a make target so that its failure says what happened:
#
#   bash scripts/step.sh NAME CMD...
#
# prints "== NAME: CMD" before and "== NAME ok (Ns)" after, or when CMD fails,
# "== NAME FAILED after Ns: exit status N" (or "killed by signal SIG", which
# is how an out-of-memory kill or a stray kill of the process group shows).
# A go test step ("go test ..." as CMD) also ends a failure with the lines
# that name what failed (--- FAIL, FAIL, panic, DATA RACE, timeouts, a test
# binary that was killed or left its output open, errors of the go command
# itself), so a failure among hundreds of lines of output is found at the end.
# The exit status is CMD's (128+N for signal N).
set -uo pipefail

[ $# -ge 2 ] || { echo "usage: $0 NAME CMD..." >&2; exit 2; }
name=$1
shift
echo "== $name: $*"
start=$SECONDS

summary=
if [ "${1-}" = go ] && [ "${2-}" = test ]; then
	summary=$(mktemp /tmp/awsauth-step.XXXXXX.log)
	trap 'rm -f "$summary"' EXIT
	# go test's own output goes through unchanged; a copy is kept to summarize.
	"$@" 2>&1 | tee "$summary"
	status=${PIPESTATUS[0]}
else
	"$@"
	status=$?
fi
took=$((SECONDS - start))
if [ "$status" = 0 ]; then
	echo "== $name ok (${took}s)"
	exit 0
fi
if [ "$status" -gt 128 ]; then
	how="killed by signal $(kill -l $((status - 128)) 2>/dev/null || echo $((status - 128)))"
else
	how="exit status $status"
fi
if [ -n "$summary" ]; then
	echo "== $name: what failed:"
	lines=$(grep -E '^ *--- FAIL|^(FAIL|panic:|fatal error:|WARNING: DATA RACE|race: |\*\*\* Test|signal: |exit status |exec: |go: |# |testing: )' "$summary" || true)
	if [ -n "$lines" ]; then
		head -n 60 <<<"$lines"
	else
		echo "(no line names it: see the output above)"
	fi
fi
echo "== $name FAILED after ${took}s: $how"
exit "$status"
