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

echo "==> escape suite (QEMU, vbridged with guest ids mapped to 100000..)"
# The export and, beside it on the host, a canary the guest must neither
# read, change nor learn anything of.  Guest root is host uid 100000.
ESC=$(mktemp -d /tmp/vbridge-esc.XXXXXX)
mkdir "$ESC/export" "$ESC/canary" "$ESC/export/.agent"
ESC_SECRET="vbridge-canary-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$ESC_SECRET" >"$ESC/canary/secret"
chmod 0700 "$ESC/canary"
chmod 0600 "$ESC/canary/secret"
printf '%s\n' "$ESC/canary" >"$ESC/export/.canary-path"
touch "$ESC/export/.tfile"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.secret", sys.argv[2].encode())' \
	"$ESC/export/.tfile" "$ESC_SECRET" 2>/dev/null ||
	echo "# no trusted xattrs on $ESC: the xattr read attempt checks less"
chown -R 100000:100000 "$ESC/export"
chmod 0755 "$ESC/export"
# Names, modes, owners, sizes, mtimes, and the secret's atime: a read
# moves it (relatime: never read since written).
esc_snapshot() {
	(cd "$ESC" && find . -path ./export -prune -o -printf '%p %m %u %s %T@\n' |
	 sort && stat -c '%X %x' canary/secret)
}
esc_before=$(esc_snapshot)
"$ROOT/scripts/host-agent.sh" "$ESC/export" &
AGENT_PID=$!
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job escape --timeout 600 \
	--log "$LOGDIR/escape.log" -- \
	--shared-dir "share=$ESC/export" \
	--uid-map 0:100000:65536 --gid-map 0:100000:65536
esc_status=$?
kill "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
esc_pass=0 esc_fail=0
while read -r p f; do
	esc_pass=$((esc_pass + p)); esc_fail=$((esc_fail + f))
done < <(tr -d '\r' <"$LOGDIR/escape.log" |
	sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .*/\1 \2/p')
esc_pass=$((esc_pass + $(grep -ac '^ok - ' "$LOGDIR/escape.log")))
esc_fail=$((esc_fail + $(grep -ac '^not ok - ' "$LOGDIR/escape.log")))
PASSED=$((PASSED + esc_pass)); FAILED=$((FAILED + esc_fail))
if [ "$esc_status" != 0 ] && [ "$esc_fail" = 0 ]; then
	record "escape guest run completed (see $LOGDIR/escape.log)" 1
fi
[ "$esc_before" = "$(esc_snapshot)" ] &&
	[ "$(cat "$ESC/canary/secret")" = "$ESC_SECRET" ]
record "escape: the canary beside the export is untouched" $?
! grep -aq "$ESC_SECRET" "$LOGDIR/escape.log"
record "escape: the canary's secret never reached the guest" $?
[ "$(ls -A "$ESC")" = "$(printf 'canary\nexport')" ]
record "escape: nothing created beside the export" $?
rm -rf "$ESC"

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
