#!/bin/bash
# The display part of make bench alone: one boot with the benchmark's
# settings (2 vCPUs, 1536 MiB, vbridged --display 1920x1080 beside
# virtio-gpu-pci at 1920x1080), running vbridge_display_bench through
# both drivers, alternately, ROUNDS times (image/guest/vb-bench-display).
# Prints the result lines; uses what scripts/build.sh built.
#
# usage: bench-display.sh [--rounds N] [--initrd CPIO] [--log FILE]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=3 INITRD_ARG='' LOG=''
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--initrd) INITRD_ARG=$2; shift 2 ;;
	--log) LOG=$2; shift 2 ;;
	*) echo "bench-display: unknown argument $1" >&2; exit 2 ;;
	esac
done
# shellcheck source=/dev/null
. "$ROOT/build/env"
LOG=${LOG:-$ROOT/build/bench-display.log}
export VM_EXTRA_QEMU_ARGS="-device virtio-gpu-pci,xres=1920,yres=1080"
export VM_EXTRA_APPEND="bench_rounds=$ROUNDS"
status=0
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "${INITRD_ARG:-$INITRD}" \
	--job bench-display --timeout $((300 * ROUNDS)) --smp 2 --mem 1536 \
	--log "$LOG" -- --display 1920x1080 >/dev/null 2>&1 || status=$?
tr -d '\r' <"$LOG" | grep -a '^display=\|^# round\|^BENCH-ENV'
exit $status
