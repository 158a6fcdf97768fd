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
# Issue 12: the Debian root tree for the microVM tests at the end, made
# once per machine by debootstrap (mostly download and unpack): start it
# now so that it overlaps the other boots.
nice -n 10 "$ROOT/image/minimal/rootfs.sh" debian >"$LOGDIR/rootfs-debian.log" 2>&1 &
# Everything printed here goes to test.log as well (security-report.sh).
exec > >(tee "$LOGDIR/test.log") 2>&1

# record NAME STATUS: a suite or check without its own counts.
record() {
	if [ "$2" = 0 ]; then
		PASSED=$((PASSED + 1)); echo "ok - $1"
	else
		FAILED=$((FAILED + 1)); echo "not ok - $1"
	fi
}

# shellcheck source=lib/results.sh
. "$ROOT/scripts/lib/results.sh"
# count_guest LOG: add a boot's results (kselftest Totals lines and its
# "ok - "/"not ok - " lines) to the totals, and leave them in
# GUEST_PASS, GUEST_FAIL and GUEST_RUNS (Totals lines); false if none.
count_guest() {
	read -r GUEST_PASS GUEST_FAIL GUEST_RUNS < <(guest_results "$1")
	PASSED=$((PASSED + GUEST_PASS)); FAILED=$((FAILED + GUEST_FAIL))
	[ "$GUEST_PASS" -gt 0 ] || [ "$GUEST_FAIL" -gt 0 ]
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

echo "==> fuzz smoke (libFuzzer, ASan+UBSan, a few seconds per target)"
if command -v clang >/dev/null; then
	make -s -C host-side fuzz-smoke FUZZ_SMOKE_SECONDS=15 2>&1 |
		tee "$LOGDIR/fuzz.log"
	fuzz_status=${PIPESTATUS[0]}
	# One result per target: "NAME EXECS EXEC/S CRASHES TIMEOUTS".
	while read -r t execs _ crashes timeouts; do
		[ "$crashes" = 0 ] && [ "$timeouts" = 0 ] && [ "$execs" -gt 0 ]
		record "fuzz smoke $t: $execs executions" $?
	done < <(grep -E '^fuzz_[a-z_]+ +[0-9]+' "$LOGDIR/fuzz.log")
	grep -qE '^fuzz_' "$LOGDIR/fuzz.log" || record "fuzz smoke ran" "$fuzz_status"
else
	record "fuzz smoke: clang missing (scripts/setup-host.sh installs it)" 1
fi

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
# vbridged's pid: the agent stops it to overflow its change notifications.
MPIDFILE=$(mktemp /tmp/vbridge-mpid.XXXXXX)
VBRIDGED_PIDFILE=$MPIDFILE "$ROOT/scripts/host-agent.sh" "$SHARE" &
AGENT_PID=$!
VBRIDGED_PIDFILE=$MPIDFILE "$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
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
rm -rf "$SHARE" "$RO" "$CTLDIR" "$MPIDFILE"
count_guest "$LOGDIR/guest.log"
if [ "$vm_status" != 0 ] && [ "$GUEST_FAIL" = 0 ]; then
	record "guest run completed (see $LOGDIR/guest.log)" 1
fi

# --- data-integrity boot (issue 7): the differential tester against a
# tmpfs reference and the host's copy, stress-ng --verify and fio
# --verify, on every cache mode, with two CPU hogs on the host and short
# cache timeouts (2 ms attributes, no names cached: the long mode,
# scripts/long-data-test.sh, uses the reverse).
echo "==> data-integrity tests (QEMU, vbridged, host CPU load)"
: >"$LOGDIR/data.log"
"$ROOT/scripts/data-test.sh" --log "$LOGDIR/data.log" --timeout 900 \
	--attr-timeout 2 --entry-timeout 0
data_status=$?
tr -d '\r' <"$LOGDIR/data.log" | grep -a '^\(not \)\?ok - \|^# \(MISMATCH\|FAIL\|mode\|data\|after\)\|^#   \(expected\|got\|after\|stress-ng\)'
data_pass=$(grep -ac '^ok - ' "$LOGDIR/data.log")
data_fail=$(grep -ac '^not ok - ' "$LOGDIR/data.log")
PASSED=$((PASSED + data_pass)); FAILED=$((FAILED + data_fail))
if [ "$data_status" != 0 ] && [ "$data_fail" = 0 ]; then
	record "data-integrity guest run completed (see $LOGDIR/data.log)" 1
fi
# --- end of the data-integrity boot

echo "==> destructive in-guest tests (a boot of their own: unbind, rmmod, stalled backend)"
# image/guest/vb-destructive on a fresh export; the host agent stops and
# resumes vbridged (pid from vm-run.sh) for the stalled-backend tests.
DSHARE=$(mktemp -d /tmp/vbridge-dshare.XXXXXX)
DPIDFILE=$(mktemp /tmp/vbridge-dpid.XXXXXX)
mkdir "$DSHARE/.agent"
VBRIDGED_PIDFILE=$DPIDFILE "$ROOT/scripts/host-agent.sh" "$DSHARE" &
DAGENT_PID=$!
VBRIDGED_PIDFILE=$DPIDFILE "$ROOT/scripts/vm-run.sh" --qemu "$QEMU" \
	--vbridged "$VBRIDGED" --kernel "$KIMAGE" --initrd "$INITRD" \
	--job destructive --timeout 600 --log "$LOGDIR/destructive.log" -- \
	--shared-dir "share=$DSHARE" --display 640x480
dvm_status=$?
kill "$DAGENT_PID" 2>/dev/null
wait "$DAGENT_PID" 2>/dev/null
rm -rf "$DSHARE" "$DPIDFILE"
count_guest "$LOGDIR/destructive.log"
if [ "$dvm_status" != 0 ] && [ "$GUEST_FAIL" = 0 ]; then
	record "destructive guest run completed (see $LOGDIR/destructive.log)" 1
fi

echo "==> fault injection (vbridged --inject: damaged replies and events)"
# Its own boot: the guest runs the suites as a workload under damaged
# replies, and must neither crash nor hang; see image/guest/vb-inject.
INJ_SHARE=$(mktemp -d /tmp/vbridge-inject.XXXXXX)
# Every kind but "drop": a dropped reply fails the device (the watchdog),
# after which nothing more is damaged; the destructive boot's stalled
# backend and the kill boot cover unanswered requests.  "slow" answers
# some requests 250 ms late, with others of the queue overtaking them.
INJECT_SPEC=${VBRIDGE_INJECT:-$RANDOM:0.02:short,oversized,wrong-id,bad-error,bad-len,garbage,event,slow}
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

echo "==> backend killed during I/O (a boot of its own)"
# The host agent SIGKILLs vbridged while the guest reads and writes; see
# image/guest/vb-kill.  What the guest synced before must be on the host.
KSHARE=$(mktemp -d /tmp/vbridge-kshare.XXXXXX)
KPIDFILE=$(mktemp /tmp/vbridge-kpid.XXXXXX)
mkdir "$KSHARE/.agent"
VBRIDGED_PIDFILE=$KPIDFILE "$ROOT/scripts/host-agent.sh" "$KSHARE" &
KAGENT_PID=$!
VM_BACKEND_KILLED=1 VBRIDGED_PIDFILE=$KPIDFILE "$ROOT/scripts/vm-run.sh" \
	--qemu "$QEMU" --vbridged "$VBRIDGED" --kernel "$KIMAGE" \
	--initrd "$INITRD" --job kill --timeout 300 \
	--log "$LOGDIR/kill.log" -- --shared-dir "share=$KSHARE" >/dev/null 2>&1
kvm_status=$?
kill "$KAGENT_PID" 2>/dev/null
wait "$KAGENT_PID" 2>/dev/null
grep -a '^ok - \|^not ok - \|^# ' "$LOGDIR/kill.log" | tr -d '\r'
count_guest "$LOGDIR/kill.log" || kvm_status=1
[ -f "$KSHARE/before" ] &&
	[ "$(sha256sum <"$KSHARE/before" | cut -d' ' -f1)" = "$(cat "$KSHARE/before.sha256")" ]
record "data synced before vbridged was killed is on the host" $?
record "backend-kill boot completed (see $LOGDIR/kill.log)" "$kvm_status"
rm -rf "$KSHARE" "$KPIDFILE"

echo "==> backend killed and restarted (a boot of its own)"
# The host agent SIGKILLs vbridged during I/O and has vm-run.sh start it
# again on the same socket; QEMU reconnects and the driver recovers the
# mount (image/guest/vb-restart).  What the guest synced before the kill
# and wrote after the restart must be on the host.
RSHARE=$(mktemp -d /tmp/vbridge-rshare.XXXXXX)
RPIDFILE=$(mktemp /tmp/vbridge-rpid.XXXXXX)
# The key the restarted vbridged needs to accept the first one's handles
# (made by the first, mode 0600).
RKEYDIR=$(mktemp -d /tmp/vbridge-rkey.XXXXXX)
mkdir "$RSHARE/.agent"
VBRIDGED_PIDFILE=$RPIDFILE "$ROOT/scripts/host-agent.sh" "$RSHARE" &
RAGENT_PID=$!
VM_BACKEND_KILLED=1 VM_BACKEND_RESTART=1 VBRIDGED_PIDFILE=$RPIDFILE \
	"$ROOT/scripts/vm-run.sh" \
	--qemu "$QEMU" --vbridged "$VBRIDGED" --kernel "$KIMAGE" \
	--initrd "$INITRD" --job restart --timeout 300 \
	--log "$LOGDIR/restart.log" -- --shared-dir "share=$RSHARE" \
	--handle-key "$RKEYDIR/key" >/dev/null 2>"$LOGDIR/restart-host.log"
rvm_status=$?
kill "$RAGENT_PID" 2>/dev/null
wait "$RAGENT_PID" 2>/dev/null
grep -a '^ok - \|^not ok - \|^# ' "$LOGDIR/restart.log" | tr -d '\r'
count_guest "$LOGDIR/restart.log" || rvm_status=1
grep -q 'vm-run: vbridged restarted (1)' "$LOGDIR/restart-host.log"
record "vbridged was restarted on the same socket" $?
[ -f "$RSHARE/before" ] && [ -f "$RSHARE/after" ]
record "files from before the kill and after the restart are on the host" $?
record "backend-restart boot completed (see $LOGDIR/restart.log)" "$rvm_status"
rm -rf "$RSHARE" "$RPIDFILE" "$RPIDFILE.restart" "$RKEYDIR"

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
count_guest "$LOGDIR/escape.log"
if [ "$esc_status" != 0 ] && [ "$GUEST_FAIL" = 0 ]; then
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

echo "==> userspace bridge (ubridge: FUSE over virtio-serial, no module)"
# Its own boot: vbridged serves a second transport, a Unix socket behind
# a virtio-serial port, on the same directory and device logic; the
# guest mounts the export with ubridge and runs the filesystem
# selftests on it (image/guest/vb-ubridge).
UBR_DIR=$(mktemp -d /tmp/vbridge-ubridge.XXXXXX)
mkdir "$UBR_DIR/share" "$UBR_DIR/share/.agent"
# The host agent changes the export for the coherence tests.
"$ROOT/scripts/host-agent.sh" "$UBR_DIR/share" &
UBR_AGENT_PID=$!
VM_EXTRA_QEMU_ARGS="-device virtio-serial-pci
	-chardev socket,id=ubr,path=$UBR_DIR/serial.sock
	-device virtserialport,chardev=ubr,name=org.vbridge.0" \
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job ubridge --timeout 900 \
	--log "$LOGDIR/ubridge.log" -- \
	--shared-dir "share=$UBR_DIR/share" --serial-socket "$UBR_DIR/serial.sock"
ubr_status=$?
kill "$UBR_AGENT_PID" 2>/dev/null
wait "$UBR_AGENT_PID" 2>/dev/null
rm -rf "$UBR_DIR"
count_guest "$LOGDIR/ubridge.log" || ubr_status=1
# One kselftest run per cache mode, each closing with its Totals line.
[ "$GUEST_RUNS" = 3 ]
record "vbridge_fs_test on ubridge finished in 3 cache modes (see $LOGDIR/ubridge.log)" $?
record "ubridge boot completed (see $LOGDIR/ubridge.log)" "$ubr_status"

# --- DMA API boot (issue 8): iommu_platform=on on the vbridge device (no
# vIOMMU) and swiotlb=force in the guest, so VIRTIO_F_ACCESS_PLATFORM is
# negotiated and every address the device gets is a bounce buffer: the
# display selftests' host views (screenshots through the control socket)
# show that the framebuffer pages reach the host through the DMA API;
# image/guest/vb-iommu checks the bit and the bounce buffers used.
echo "==> DMA API boot (iommu_platform=on, swiotlb=force)"
ISHARE=$(mktemp -d /tmp/vbridge-ishare.XXXXXX)
mkdir "$ISHARE/.agent"
VBRIDGE_CONTROL=$ISHARE.control VBRIDGE_VNC='' \
	"$ROOT/scripts/host-agent.sh" "$ISHARE" &
IAGENT_PID=$!
VM_DEVICE_ARGS=iommu_platform=on VM_EXTRA_APPEND=swiotlb=force \
	"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job iommu --timeout 300 \
	--log "$LOGDIR/iommu.log" -- --shared-dir "share=$ISHARE" \
	--display 1024x768 --control-socket "$ISHARE.control" --access-platform \
	>/dev/null 2>&1
ivm_status=$?
kill "$IAGENT_PID" 2>/dev/null
wait "$IAGENT_PID" 2>/dev/null
rm -rf "$ISHARE" "$ISHARE.control"
tr -d '\r' <"$LOGDIR/iommu.log" | grep -a '^\(not \)\?ok - \|^# ' | grep -av '^# *\(RUN\|OK\|PASSED\|SKIP\|Starting\)'
count_guest "$LOGDIR/iommu.log" || ivm_status=1
record "DMA API boot completed (see $LOGDIR/iommu.log)" "$ivm_status"
# --- end of the DMA API boot

# --- kernel matrix (issue 11): a short smoke boot on each other kernel
# that build.sh resolved and built for (build/env: KVER_*, KIMAGE_*,
# INITRD_*), the full suite above having run on the main one.  The job
# (image/guest/vb-smoke) loads the modules, mounts vbridgefs and runs the
# filesystem and display selftests: without DRM (cloud-amd64) the display
# module is absent and the display selftests SKIP, saying why.  LTS is
# Debian 12's own 6.1 (both modules, built through driver/vbridge_compat.h).
for k in CLOUD LTS; do
	kver=KVER_$k kimage=KIMAGE_$k initrd=INITRD_$k
	if [ -z "${!kimage:-}" ] || [ -z "${!initrd:-}" ]; then
		record "kernel matrix: build/env has the ${k,,} kernel" 1
		continue
	fi
	echo "==> kernel matrix: smoke boot on ${!kver}"
	MSHARE=$(mktemp -d /tmp/vbridge-mshare.XXXXXX)
	mkdir "$MSHARE/.agent"
	# The display selftests compare with what the host shows: the agent
	# dumps it through this boot's own control socket.  No VNC server
	# here (that capture SKIPs), so none of another boot's is used.
	MCTL=$(mktemp -d /tmp/vbridge-mctl.XXXXXX)
	VBRIDGE_CONTROL=$MCTL/control.sock VBRIDGE_VNC='' \
		"$ROOT/scripts/host-agent.sh" "$MSHARE" &
	MAGENT_PID=$!
	mlog=$LOGDIR/smoke-${k,,}.log
	"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
		--kernel "${!kimage}" --initrd "${!initrd}" --job smoke \
		--timeout 600 --log "$mlog" -- \
		--shared-dir "share=$MSHARE" --display 640x480 \
		--control-socket "$MCTL/control.sock"
	mstatus=$?
	kill "$MAGENT_PID" 2>/dev/null
	wait "$MAGENT_PID" 2>/dev/null
	rm -rf "$MSHARE" "$MCTL"
	while read -r p f; do
		PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
	done < <(tr -d '\r' <"$mlog" |
		sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .*/\1 \2/p')
	count_guest "$mlog" || mstatus=1
	record "kernel matrix: ${!kver} boot completed (see $mlog)" "$mstatus"
done
# --- end of the kernel matrix

# --- benchmark quick mode (issue 9): scripts/bench.sh --quick boots one
# guest with every configuration (vbridgefs modes, ubridge, virtiofs, 9p,
# tmpfs) plus the host, at tiny sizes; one "ok"/"not ok" per
# configuration: every workload produced its numbers.
echo "==> benchmark quick mode (every configuration produces numbers)"
"$ROOT/scripts/bench.sh" --quick --no-build >"$LOGDIR/bench-quick.log" 2>&1
bench_status=$?
grep -a '^\(not \)\?ok - \|^bench' "$LOGDIR/bench-quick.log"
count_guest "$LOGDIR/bench-quick.log" || bench_status=1
record "benchmark quick mode completed (see $LOGDIR/bench-quick.log, build/results/quick)" "$bench_status"
# --- end of the benchmark quick mode

# --- issue 12 (microvm): root over vbridge on q35 and microvm, "vbridge
# run", the example device tree.  On Debian's kernel by default: building
# the minimal kernel (VBRIDGE_TEST_KERNEL=minimal) costs a fresh 2-core
# machine more than the time left under 30 minutes.
echo "==> root over vbridge, vbridge run (scripts/microvm-test.sh)"
VBRIDGE_TEST_KERNEL=${VBRIDGE_TEST_KERNEL:-debian} LOGDIR=$LOGDIR \
	"$ROOT/scripts/microvm-test.sh" >"$LOGDIR/microvm.log" 2>&1
mvm_status=$?
tr -d '\r' <"$LOGDIR/microvm.log" | grep -a '^\(not \)\?ok - \|^# ' | grep -av '^# *\(RUN\|OK\|PASSED\|SKIP\|Starting\)'
count_guest "$LOGDIR/microvm.log" || mvm_status=1
if [ "$mvm_status" != 0 ] && [ "$GUEST_FAIL" = 0 ]; then
	record "microvm tests completed (see $LOGDIR/microvm.log)" 1
fi
# --- end of issue 12 (microvm)

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
