#!/bin/sh
# run.sh - runs every libFuzzer target in DIR for SECONDS each.
#
#   test/fuzz/run.sh DIR SECONDS
#
# Seeds come from test/fuzz/corpus/<target>/ (read only); what a run
# learns goes to build/fuzz/corpus/<target>/.  Prints one line a target
# (executions, coverage) and fails if any target found a crash.
set -u
dir=${1:?usage: run.sh DIR SECONDS}
secs=${2:-60}
bad=0
printf '%-28s %12s %8s %8s %s\n' target execs cov ft result
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	t=$(basename "$f")
	name=${t#fuzz_}
	work=build/fuzz/corpus/$name
	seeds=test/fuzz/corpus/$name
	mkdir -p "$work" "$seeds" build/fuzz/artifacts
	log=build/fuzz/$t.log
	"$f" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix=build/fuzz/artifacts/$t- \
		"$work" "$seeds" > "$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	if [ $rc -eq 0 ]; then res=ok; else res="FAILED (see $log)"; bad=1; fi
	printf '%-28s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$res"
done
exit $bad
