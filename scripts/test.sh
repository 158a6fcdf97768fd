#!/bin/bash
# Run every vbridge test: host unit tests (ASan/UBSan), the kernel
# module's static checks, and the in-guest kselftests in a VM served by
# vbridged.  Prints TAP per suite and a closing "N passed, N failed"
# line; exits non-zero when anything failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
"$ROOT/scripts/build.sh" || { echo "0 passed, 1 failed"; exit 1; }
# shellcheck source=/dev/null
. "$ROOT/build/env"

PASSED=0 FAILED=0
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"

# record NAME STATUS: a suite or check without its own counts.
record() {
	if [ "$2" = 0 ]; then
		PASSED=$((PASSED + 1)); echo "ok - $1"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $1"
	fi
}

echo "==> host unit tests"
make -s -C host-side check 2>&1 | tee "$LOGDIR/host.log"
host_status=${PIPESTATUS[0]}
counts=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$LOGDIR/host.log" | tail -n 1)
if [ -n "$counts" ]; then
	PASSED=$((PASSED + $(echo "$counts" | cut -d' ' -f1)))
	FAILED=$((FAILED + $(echo "$counts" | cut -d' ' -f3)))
fi
[ "$host_status" = 0 ] && [ -n "$counts" ] || record "host unit tests exit status" 1

echo "==> kernel module static checks (sparse C=2 with endian checks, W=1)"
make -s check KDIR="$KDIR" >"$LOGDIR/kcheck.log" 2>&1
kcheck=$?
cat "$LOGDIR/kcheck.log"
record "vbridge.ko builds clean under sparse and W=1" "$kcheck"

aliases=$(modinfo -F alias "$ROOT/vbridge.ko")
echo "# modinfo aliases:" $aliases
echo "$aliases" | grep -qx 'virtio:d0000003Fv\*'
record "modinfo shows the virtio alias of device ID 63" $?

echo "==> in-guest tests (QEMU, vbridged)"
# A fresh read-write export with the host agent acting on it (coherence
# and host-lock tests), and a read-only one.
SHARE=$(mktemp -d /tmp/vbridge-share.XXXXXX)
# A host filesystem mounted below the export: its own st_dev in the guest.
mkdir "$SHARE/submnt" &&
	{ mount -t tmpfs -o size=16m vbridge-sub "$SHARE/submnt" ||
	  rmdir "$SHARE/submnt"; }
RO=$(mktemp -d /tmp/vbridge-ro.XXXXXX)
echo "read-only content" >"$RO/file"
mkdir "$SHARE/.agent"
# The display's control socket: the agent takes screenshots and resizes
# through it for the display tests.
CTLDIR=$(mktemp -d /tmp/vbridge-ctl.XXXXXX)
export VBRIDGE_CONTROL=$CTLDIR/control.sock
# Its VNC server (--vnc :7): the agent captures the screen as a client.
export VBRIDGE_VNC=127.0.0.1:5907
"$ROOT/scripts/host-agent.sh" "$SHARE" &
AGENT_PID=$!
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job test --timeout 900 \
	--log "$LOGDIR/guest.log" -- \
	--shared-dir "share=$SHARE" --shared-dir "ro=$RO:ro" \
	--display 1024x768 --control-socket "$VBRIDGE_CONTROL" --vnc :7
vm_status=$?
kill "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
if mountpoint -q "$SHARE/submnt"; then
	umount "$SHARE/submnt" || umount -l "$SHARE/submnt"
fi
rm -rf "$SHARE" "$RO" "$CTLDIR"
guest_pass=0 guest_fail=0
# kselftest closing lines: "# Totals: pass:N fail:N xfail:N xpass:N ..."
while read -r p f; do
	guest_pass=$((guest_pass + p)); guest_fail=$((guest_fail + f))
done < <(tr -d '\r' <"$LOGDIR/guest.log" |
	sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .*/\1 \2/p')
# The guest job's own checks (probe, mounts) are "ok - ..." lines.
guest_pass=$((guest_pass + $(grep -ac '^ok - ' "$LOGDIR/guest.log")))
guest_fail=$((guest_fail + $(grep -ac '^not ok - ' "$LOGDIR/guest.log")))
PASSED=$((PASSED + guest_pass)); FAILED=$((FAILED + guest_fail))
if [ "$vm_status" != 0 ] && [ "$guest_fail" = 0 ]; then
	record "guest run completed (see $LOGDIR/guest.log)" 1
fi

# --- data-integrity boot (issue 7): the differential tester against a
# tmpfs reference and the host's copy, stress-ng --verify and fio
# --verify, on every cache mode, with two CPU hogs on the host.
echo "==> data-integrity tests (QEMU, vbridged, host CPU load)"
: >"$LOGDIR/data.log"
"$ROOT/scripts/data-test.sh" --log "$LOGDIR/data.log" --timeout 900
data_status=$?
tr -d '\r' <"$LOGDIR/data.log" | grep -a '^\(not \)\?ok - \|^# \(MISMATCH\|FAIL\|mode\|data\|after\)\|^#   \(expected\|got\|after\)'
data_pass=$(grep -ac '^ok - ' "$LOGDIR/data.log")
data_fail=$(grep -ac '^not ok - ' "$LOGDIR/data.log")
PASSED=$((PASSED + data_pass)); FAILED=$((FAILED + data_fail))
if [ "$data_status" != 0 ] && [ "$data_fail" = 0 ]; then
	record "data-integrity guest run completed (see $LOGDIR/data.log)" 1
fi
# --- end of the data-integrity boot

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
