#!/bin/sh
# run.sh - runs every test and prints "N passed, N failed" last.
#
#   test/run.sh BUILD_DIR [--unit-only]
#
# Unit tests are BUILD_DIR/test/test_* binaries; integration tests are
# test/*_test.sh scripts, run with BUILD_DIR as their argument.  Each
# prints "RESULT <passed> <failed> [<skipped>]"; a test that prints no RESULT line or
# exits non-zero with no failures counted is counted as one failure.
# $QEMU, if set, runs the unit binaries (cross builds).  A unit binary
# still running after $TEST_UNIT_LIMIT s (900), a script after
# $TEST_SCRIPT_LIMIT s (2400), is killed and counted as one failure.
set -u
b=${1:?usage: run.sh BUILD_DIR [--unit-only]}
mode=${2:-all}
passed=0
failed=0
skipped=0
# A hang ends as a failure, not as a CI run that never finishes.
unit_limit=${TEST_UNIT_LIMIT:-900}
script_limit=${TEST_SCRIPT_LIMIT:-2400}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tally() { # name, status, time limit
	if [ "$2" -eq 124 ]; then
		echo "FAIL $1: still running after $3 s (killed: a hang?)"
		tail -n 20 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		return
	fi
	r=$(grep '^RESULT ' "$log" | tail -n 1)
	if [ -z "$r" ]; then
		echo "FAIL $1: no result (exit $2)"
		tail -n 20 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		return
	fi
	set -- "$1" "$2" $r
	p=$4 f=$5 k=${6:-0}
	if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $1: exit $2"
		tail -n 20 "$log" | sed 's/^/    /'
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	grep -E '^(FAIL|SKIP)' "$log" | sed 's/^/    /'
	if [ "$k" -gt 0 ]; then
		printf '%-40s %4d passed, %d failed, %d skipped\n' "$1" "$p" "$f" "$k"
	else
		printf '%-40s %4d passed, %d failed\n' "$1" "$p" "$f"
	fi
}

for t in "$b"/test/test_*; do
	[ -x "$t" ] || continue
	timeout -k 10 "$unit_limit" ${QEMU:-} "$t" > "$log" 2>&1
	tally "$(basename "$t")" $? "$unit_limit"
done
if [ "$mode" != "--unit-only" ]; then
	for s in test/*_test.sh; do
		[ -f "$s" ] || continue
		timeout -k 10 "$script_limit" sh "$s" "$b" > "$log" 2>&1
		tally "$(basename "$s" .sh)" $? "$script_limit"
	done
fi
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
