#!/bin/bash
# Long data-integrity run, outside CI: the vb-data guest job with many
# seeds and operations (by default 10 seeds x 25,000 operations on each
# of the 4 cache modes: 1,000,000 differential-tester operations), longer
# stress-ng stressors and larger fio jobs, under host CPU load and with
# short cache timeouts (by default no attribute caching and 2 ms for
# names; make test's data boot uses the reverse).  Takes hours under TCG.
# Builds first; the guest log is build/test-logs/long-data.log.  Exits
# non-zero when anything failed.
#
# usage: long-data-test.sh [--seeds N] [--first-seed S] [--ops N]
#                          [--modes none,auto,always,writeback]
#                          [--stress SEC] [--fio MIB] [--size KIB] [--hogs N]
#                          [--attr-timeout MS] [--entry-timeout MS]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NSEEDS=10 FIRST=1000 OPS=25000 MODES=none,auto,always,writeback
STRESS=30 FIO=16 SIZE=1024 HOGS=2 ATTR_TIMEOUT=0 ENTRY_TIMEOUT=2
while [ $# -gt 0 ]; do
	case $1 in
	--seeds) NSEEDS=$2; shift 2 ;;
	--first-seed) FIRST=$2; shift 2 ;;
	--ops) OPS=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--stress) STRESS=$2; shift 2 ;;
	--fio) FIO=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--hogs) HOGS=$2; shift 2 ;;
	--attr-timeout) ATTR_TIMEOUT=$2; shift 2 ;;
	--entry-timeout) ENTRY_TIMEOUT=$2; shift 2 ;;
	*) echo "long-data-test: unknown argument $1" >&2; exit 2 ;;
	esac
done
seeds=$(seq -s, "$FIRST" $((FIRST + NSEEDS - 1)))
nmodes=$(tr , '\n' <<<"$MODES" | grep -c .)
echo "long-data-test: $((NSEEDS * OPS * nmodes)) operations ($NSEEDS seeds x $OPS ops x $nmodes modes)"

"$ROOT/scripts/build.sh"
LOG=$ROOT/build/test-logs/long-data.log
mkdir -p "$(dirname "$LOG")"
status=0
# The VM's limit: a generous 20 ms per operation plus the suites.
"$ROOT/scripts/data-test.sh" --log "$LOG" \
	--timeout $((NSEEDS * OPS * nmodes / 50 + nmodes * (STRESS * 13 + 600))) \
	--seeds "$seeds" --ops "$OPS" --modes "$MODES" --stress "$STRESS" \
	--fio "$FIO" --size "$SIZE" --hogs "$HOGS" \
	--attr-timeout "$ATTR_TIMEOUT" --entry-timeout "$ENTRY_TIMEOUT" ||
	status=$?
pass=$(grep -ac '^ok - ' "$LOG" || true)
fail=$(grep -ac '^not ok - ' "$LOG" || true)
grep -a '^not ok - ' "$LOG" || true
echo "$pass passed, $fail failed (log: $LOG)"
[ "$status" = 0 ] && [ "$fail" = 0 ] && [ "$pass" -gt 0 ]
