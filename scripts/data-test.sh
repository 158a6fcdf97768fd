#!/bin/bash
# Boot the data-integrity guest job (image/guest/vb-data) once: a fresh
# export with the host agent (the host's checksum of each tested file),
# and CPU hogs on the host beside the VM for the whole boot, which widen
# the timing windows between guest and host.  Needs scripts/build.sh to
# have run (build/env).  The guest's "ok - ..." / "not ok - ..." lines
# go to the log; exits with the VM run's status.
#
# usage: data-test.sh --log FILE [--timeout SEC] [--seeds 1,2,3] [--ops N]
#                     [--modes none,auto,always,writeback] [--stress SEC]
#                     [--fio MIB] [--size KIB] [--hogs N] [--hog-nice N]
#                     [--attr-timeout MS] [--entry-timeout MS]
#   --stress  seconds per stress-ng stressor (0: skip stress-ng)
#   --fio     MiB per fio job (0: skip fio)
#   --size    largest file of the differential tester, KiB
#   --hogs    busy loops on the host during the boot (default 2)
#   --attr-timeout, --entry-timeout
#             vbridged's cache timeouts (default 1000 ms): short ones make
#             cache=auto and writeback fetch attributes and look names up
#             again between most operations, which widens the windows
#             between those replies and the writes in flight
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOG='' TIMEOUT=900 SEEDS=1,2,3 OPS=1000 MODES=none,auto,always,writeback
STRESS=4 FIO=4 SIZE=256 HOGS=2 HOG_NICE=10 ATTR_TIMEOUT=1000 ENTRY_TIMEOUT=1000
while [ $# -gt 0 ]; do
	case $1 in
	--log) LOG=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--seeds) SEEDS=$2; shift 2 ;;
	--ops) OPS=$2; shift 2 ;;
	--modes) MODES=$2; shift 2 ;;
	--stress) STRESS=$2; shift 2 ;;
	--fio) FIO=$2; shift 2 ;;
	--size) SIZE=$2; shift 2 ;;
	--hogs) HOGS=$2; shift 2 ;;
	--hog-nice) HOG_NICE=$2; shift 2 ;;
	--attr-timeout) ATTR_TIMEOUT=$2; shift 2 ;;
	--entry-timeout) ENTRY_TIMEOUT=$2; shift 2 ;;
	*) echo "data-test: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$LOG" ] || { echo "data-test: --log is required" >&2; exit 2; }
for v in SEEDS MODES; do	# kernel command line words: no spaces
	[[ ${!v} =~ ^[a-z0-9,]+$ ]] || { echo "data-test: bad --${v,,}" >&2; exit 2; }
done
for v in OPS STRESS FIO SIZE HOGS HOG_NICE TIMEOUT ATTR_TIMEOUT ENTRY_TIMEOUT; do
	o=${v,,}
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "data-test: bad --${o//_/-}" >&2; exit 2; }
done
# shellcheck source=/dev/null
. "$ROOT/build/env"

SHARE=$(mktemp -d /tmp/vbridge-data.XXXXXX)
mkdir "$SHARE/.agent"
AGENT_PID=''
HOG_PIDS=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local pid
	for pid in "${HOG_PIDS[@]}" $AGENT_PID; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$SHARE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/host-agent.sh" "$SHARE" &
AGENT_PID=$!
# Busy loops beside the VM: the issue's reproducer (two CPU-bound host
# processes made the cache=auto corruption show in 2 of 3 runs).
for ((i = 0; i < HOGS; i++)); do
	nice -n "$HOG_NICE" bash -c 'while :; do :; done' &
	HOG_PIDS+=($!)
done

start=$(date +%s)
status=0
# no_timer_check: on a loaded host the kernel's IO-APIC timer check can
# fail under TCG ("IO-APIC + timer doesn't work!", a panic at boot).
VM_EXTRA_APPEND="no_timer_check VB_DATA_SEEDS=$SEEDS VB_DATA_OPS=$OPS VB_DATA_MODES=$MODES VB_DATA_STRESS=$STRESS VB_DATA_FIO=$FIO VB_DATA_SIZE=$SIZE" \
	"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD_DATA" --job data \
	--timeout "$TIMEOUT" --log "$LOG" -- --shared-dir "share=$SHARE" \
	--attr-timeout "$ATTR_TIMEOUT" --entry-timeout "$ENTRY_TIMEOUT" ||
	status=$?
echo "# data boot: $(($(date +%s) - start)) s wall, $HOGS host CPU hogs (nice $HOG_NICE), attribute timeout $ATTR_TIMEOUT ms, entry timeout $ENTRY_TIMEOUT ms"
exit "$status"
