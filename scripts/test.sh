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

# count_guest LOG: add a boot's "ok - "/"not ok - " lines to the totals.
count_guest() {
	local p f
	p=$(grep -ac '^ok - ' "$1") f=$(grep -ac '^not ok - ' "$1")
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
	[ "$p" -gt 0 ] || [ "$f" -gt 0 ]
}

echo "==> fault injection (vbridged --inject: damaged replies and events)"
# Its own boot: the guest runs the suites as a workload under damaged
# replies, and must neither crash nor hang; see image/guest/vb-inject.
INJ_SHARE=$(mktemp -d /tmp/vbridge-inject.XXXXXX)
INJECT_SPEC=${VBRIDGE_INJECT:-$RANDOM:0.02}
echo "# vbridged --inject=$INJECT_SPEC"
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job inject --timeout 600 \
	--log "$LOGDIR/inject.log" -- \
	--shared-dir "share=$INJ_SHARE" --display 1024x768 \
	--inject="$INJECT_SPEC" 2>&1 | tee "$LOGDIR/inject-host.log" |
	grep -a 'inject:'
inj_status=${PIPESTATUS[0]}
rm -rf "$INJ_SHARE"
count_guest "$LOGDIR/inject.log" || inj_status=1
injected=$(sed -n 's/.*inject: \([0-9]*\) faults injected.*/\1/p' \
	"$LOGDIR/inject-host.log" | tail -n 1)
[ "${injected:-0}" -gt 0 ]
record "vbridged injected faults (${injected:-0})" $?
record "fault-injection boot completed (see $LOGDIR/inject.log)" "$inj_status"

echo "==> userspace bridge (ubridge: FUSE over virtio-serial, no module)"
# Its own boot: vbridged serves a second transport, a Unix socket behind
# a virtio-serial port, on the same directory and device logic; the
# guest mounts the export with ubridge and runs the filesystem
# selftests on it (image/guest/vb-ubridge).
UBR_DIR=$(mktemp -d /tmp/vbridge-ubridge.XXXXXX)
mkdir "$UBR_DIR/share"
VM_EXTRA_QEMU_ARGS="-device virtio-serial-pci
	-chardev socket,id=ubr,path=$UBR_DIR/serial.sock
	-device virtserialport,chardev=ubr,name=org.vbridge.0" \
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job ubridge --timeout 900 \
	--log "$LOGDIR/ubridge.log" -- \
	--shared-dir "share=$UBR_DIR/share" --serial-socket "$UBR_DIR/serial.sock"
ubr_status=$?
rm -rf "$UBR_DIR"
# One kselftest run per cache mode, each closing with its Totals line.
ubr_runs=0
while read -r p f; do
	PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); ubr_runs=$((ubr_runs + 1))
done < <(tr -d '\r' <"$LOGDIR/ubridge.log" |
	sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .*/\1 \2/p')
[ "$ubr_runs" = 3 ]
record "vbridge_fs_test on ubridge finished in 3 cache modes (see $LOGDIR/ubridge.log)" $?
count_guest "$LOGDIR/ubridge.log" || ubr_status=1
record "ubridge boot completed (see $LOGDIR/ubridge.log)" "$ubr_status"

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
