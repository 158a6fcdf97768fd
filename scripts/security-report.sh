#!/bin/bash
# Print the security and reliability figures of the last `make test`
# from its logs (build/test-logs): fuzzing, the escape suite, fault
# injection, backend kills and the destructive boot.  Runs nothing
# itself; exits 1 if a log is missing or any figure is a failure.
#
# usage: security-report.sh [LOGDIR]
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGDIR=${1:-$ROOT/build/test-logs}
bad=0
# shellcheck source=lib/results.sh
. "$ROOT/scripts/lib/results.sh"

# count PATTERN FILE: matching lines (0 without the file)
count() {
	[ -f "$2" ] || { echo 0; return; }
	tr -d '\r' <"$2" | grep -ac -- "$1" || true
}
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }
need() {
	[ -f "$LOGDIR/$1" ] && return 0
	row "$2" "no log ($LOGDIR/$1): run make test" "-"
	bad=1
	return 1
}

echo "# vbridge security and reliability report"
echo
echo "From the logs of the last \`make test\` in $LOGDIR."
echo
row "check" "figures" "verdict"
row "---" "---" "---"

if need fuzz.log "fuzzing (libFuzzer, ASan+UBSan)"; then
	while read -r t execs _rate crashes timeouts; do
		v=ok
		[ "$crashes" = 0 ] && [ "$timeouts" = 0 ] || { v=FAIL; bad=1; }
		row "fuzz: $t" "$execs executions, $crashes crashes, $timeouts timeouts" "$v"
	done < <(tr -d '\r' <"$LOGDIR/fuzz.log" | grep -a '^fuzz_[a-z_]* *[0-9]')
fi

if need escape.log "escape suite"; then
	read -r p f _ < <(guest_results "$LOGDIR/escape.log")
	canary=$(count '^ok - escape: ' "$LOGDIR/test.log")
	canary_bad=$(count '^not ok - escape: ' "$LOGDIR/test.log")
	v=ok
	[ "$f" = 0 ] && [ "$canary_bad" = 0 ] && [ "$p" -gt 0 ] || { v=FAIL; bad=1; }
	row "escape attempts (id-mapped guest root)" \
		"$p escape attempts refused with the right error, $f got through; host canary checks: $canary ok, $canary_bad failed" "$v"
fi

if need inject.log "fault injection"; then
	faults=$(tr -d '\r' <"$LOGDIR/inject-host.log" 2>/dev/null |
		sed -n 's/.*inject: \([0-9]*\) faults injected: *\(.*\)/\1 (\2)/p' | tail -n 1)
	badresp=$(tr -d '\r' <"$LOGDIR/inject.log" |
		sed -n 's/^# driver counted \([0-9]*\) bad responses/\1/p' | tail -n 1)
	oops=$(count 'BUG:\|WARNING:\|Oops\|blocked for more than' "$LOGDIR/inject.log")
	read -r p f _ < <(guest_results "$LOGDIR/inject.log")
	v=ok
	[ "$f" = 0 ] && [ "$oops" = 0 ] && [ -n "$faults" ] || { v=FAIL; bad=1; }
	row "injected faults" "${faults:-none logged}; guest counted ${badresp:-?} bad responses; $oops oopses/warnings/hung tasks; $p checks ok, $f failed" "$v"
fi

if need kill.log "backend killed during I/O"; then
	read -r p f _ < <(guest_results "$LOGDIR/kill.log")
	lat=$(tr -d '\r' <"$LOGDIR/kill.log" |
		sed -n 's/^ok - calls fail within 5 s of the backend.s death (\([0-9]*\) ms)/\1 ms/p')
	synced=$(count '^ok - data synced before vbridged was killed' "$LOGDIR/test.log")
	v=ok
	[ "$f" = 0 ] && [ "$synced" = 1 ] || { v=FAIL; bad=1; }
	row "vbridged SIGKILLed during I/O" "calls failed within ${lat:-?}; 4 MiB synced before the kill verified on the host: $synced/1; $p checks ok, $f failed" "$v"
fi

if need restart.log "backend killed and restarted"; then
	read -r p f _ < <(guest_results "$LOGDIR/restart.log")
	# "# restart: 1 kill, N recovery, B bytes verified on the host ..."
	read -r kills recs bytes < <(tr -d '\r' <"$LOGDIR/restart.log" |
		sed -n 's/^# restart: \([0-9]*\) kill, \([0-9]*\) recovery, \([0-9]*\) bytes verified.*/\1 \2 \3/p' |
		tail -n 1) || true
	rec=$(tr -d '\r' <"$LOGDIR/restart.log" |
		sed -n 's/^# restart: recovered \([0-9]*\) ms after the kill/\1 ms/p')
	v=ok
	[ "$f" = 0 ] && [ "${kills:-0}" -gt 0 ] && [ "${recs:-0}" = "${kills:-0}" ] &&
		[ "${bytes:-0}" -gt 0 ] || { v=FAIL; bad=1; }
	row "vbridged SIGKILLed and restarted" "${kills:-0} kills, ${recs:-0} recoveries (serving again ${rec:-?} after the kill); ${bytes:-0} bytes verified on the host after the restart; $p checks ok, $f failed" "$v"
fi

if need destructive.log "destructive boot"; then
	read -r p f _ < <(guest_results "$LOGDIR/destructive.log")
	v=ok
	[ "$f" = 0 ] && [ "$p" -gt 0 ] || { v=FAIL; bad=1; }
	row "unbind, rmmod, stalled backend, signals" "$p checks ok, $f failed" "$v"
fi

echo
if [ "$bad" = 0 ]; then
	echo "Result: no crash, no escape, every fault became an error."
else
	echo "Result: FAILURES above."
fi
exit "$bad"
