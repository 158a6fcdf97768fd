#!/bin/bash
# Run vbridged's libFuzzer targets (host-side/fuzz) one after the other
# and print executions, crashes and timeouts per target.
#
# usage: fuzz.sh [--smoke] [SECONDS]   (default 600 s per target)
#
# Each target starts from its seed corpus in host-side/fuzz/corpus/NAME
# (kept small, in the tree) and grows a working corpus in
# host-side/build/fuzz/work/NAME, kept between runs.  Crash and timeout
# inputs land in host-side/build/fuzz/artifacts/NAME.  --smoke: quiet, and
# a crash or timeout makes the script fail (for make fuzz-smoke and
# scripts/test.sh).  Exits non-zero if any target crashed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HS=$ROOT/host-side
smoke=0
if [ "${1:-}" = --smoke ]; then
	smoke=1
	shift
fi
SECONDS_PER=${1:-600}
TARGETS=${FUZZ_TARGETS:-"fuzz_vhost_user fuzz_virtq fuzz_fs fuzz_fs_mt fuzz_display"}

make -s -C "$HS" fuzz >/dev/null || { echo "fuzz.sh: build failed" >&2; exit 1; }

failed=0
printf '%-18s %12s %8s %8s %8s\n' target execs exec/s crashes timeouts
for t in $TARGETS; do
	work=$HS/build/fuzz/work/$t
	art=$HS/build/fuzz/artifacts/$t
	log=$HS/build/fuzz/$t.log
	mkdir -p "$work" "$art"
	before_c=$(find "$art" -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' | wc -l)
	before_t=$(find "$art" -name 'timeout-*' | wc -l)
	# -fork would hide the exec count; one process, restarted on a crash
	# until the time is up, so that a crash does not end the run.
	start=$(date +%s) execs=0 crashed=0
	while :; do
		left=$((SECONDS_PER - ($(date +%s) - start)))
		[ "$left" -gt 0 ] || break
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$HS/build/fuzz/$t" -max_total_time="$left" -timeout=20 \
			-rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
			-artifact_prefix="$art/" "$work" "$HS/fuzz/corpus/$t" \
			>"$log" 2>&1
		rc=$?
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		[ -n "$n" ] || n=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
		execs=$((execs + ${n:-0}))
		[ "$rc" = 0 ] && break
		crashed=1
		cp "$log" "$art/log-$(date +%s)"
	done
	crashes=$(($(find "$art" -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' | wc -l) - before_c))
	timeouts=$(($(find "$art" -name 'timeout-*' | wc -l) - before_t))
	if [ "$crashed" = 1 ] && [ "$crashes" = 0 ] && [ "$timeouts" = 0 ]; then
		crashes=1	# died without an artifact: count it all the same
	fi
	elapsed=$(($(date +%s) - start))
	printf '%-18s %12d %8d %8d %8d\n' "$t" "$execs" \
		$((execs / (elapsed > 0 ? elapsed : 1))) "$crashes" "$timeouts"
	if [ $((crashes + timeouts)) -gt 0 ]; then
		failed=1
		[ "$smoke" = 1 ] && tail -n 40 "$art"/log-* 2>/dev/null | sed 's/^/#   /' >&2
	fi
done
exit $failed
