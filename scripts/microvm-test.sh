#!/bin/bash
# Issue 12's tests (run by scripts/test.sh): the minimal kernel with its
# root over vbridge, "vbridge run", and the example device tree.  Prints
# "ok - " / "not ok - " lines and the guest's kselftest output; exits
# non-zero when anything failed.  Needs build/env (scripts/build.sh).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$ROOT/build/env"
LOGDIR=${LOGDIR:-$ROOT/build/test-logs}
mkdir -p "$LOGDIR"
VBRIDGE=$ROOT/tools/vbridge
# The kernel the boots use (minimal: image/minimal, built here once).
KERNEL=${VBRIDGE_TEST_KERNEL:-minimal}
failed=0
ok() {
	if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1"; failed=1; fi
}

dtc -q -I dts -O dtb -o /dev/null "$ROOT/dts/vbridge-example.dts" 2>&1 |
	sed 's/^/# /'
ok "dts/vbridge-example.dts compiles with dtc" "${PIPESTATUS[0]}"

# Building the minimal kernel and the Debian tree are paid once per
# machine (cached); say how long they took.
if [ "$KERNEL" = minimal ]; then
	t0=$(date +%s)
	KMIN=$("$ROOT/image/minimal/build-kernel.sh" 2>"$LOGDIR/minimal-kernel.log")
	ok "minimal kernel builds ($(($(date +%s) - t0)) s; log $LOGDIR/minimal-kernel.log)" $?
	[ -f "$KMIN" ] && echo "# minimal bzImage: $(stat -c %s "$KMIN") bytes"
fi

# Root over vbridge on q35 (virtio-pci): a copy of the busybox tree with
# the static test programs, and the filesystem selftests on the root
# export itself.
BB=$("$ROOT/image/minimal/rootfs.sh" busybox)
RT=$(mktemp -d /tmp/vbridge-root.XXXXXX)
cp -a "$BB/." "$RT/"
chmod 0755 "$RT"
cp "$ROOT"/build/guest-bin/vbridge_fs_test "$RT/usr/bin/"
mkdir "$RT/vbtest"
VBRIDGE_QUIET=1 timeout 900 "$VBRIDGE" run --root "$RT" --machine q35 \
	--kernel "$KERNEL" --no-cwd --cpus 2 -- \
	sh -c 'grep " / vbridgefs " /proc/mounts && echo "# kernel $(uname -r)" &&
		VBRIDGE_MNT=/vbtest vbridge_fs_test' 2>&1 | tee "$LOGDIR/microvm-rootfs.log"
st=${PIPESTATUS[0]}
ok "$KERNEL kernel, q35, root over vbridge: vbridge_fs_test on / (exit $st)" "$st"
grep -q '^# Totals: pass:[1-9][0-9]* fail:0 ' "$LOGDIR/microvm-rootfs.log"
ok "vbridge_fs_test on the vbridge root: some passed, none failed" $?
rm -rf "$RT"

# vbridge run on microvm (virtio-mmio): exit statuses pass through.
VBRIDGE_QUIET=1 timeout 300 "$VBRIDGE" run --kernel "$KERNEL" -- true
ok "vbridge run -- true exits 0" $?
VBRIDGE_QUIET=1 timeout 300 "$VBRIDGE" run --kernel "$KERNEL" -- sh -c 'exit 3'
st=$?
[ "$st" = 3 ]
ok "vbridge run -- sh -c 'exit 3' exits 3 (got $st)" $?
# The current directory is shared, read-write; --share TAG=DIR:ro is
# mounted read-only at /run/vbridge/TAG.
CWD=$(mktemp -d /tmp/vbridge-cwd.XXXXXX)
mkdir "$CWD/ro"
echo "from the host" >"$CWD/in"
echo "read-only" >"$CWD/ro/f"
out=$(cd "$CWD" && VBRIDGE_QUIET=1 timeout 300 "$VBRIDGE" run --kernel "$KERNEL" \
	--share "r=$CWD/ro:ro" -- sh -c 'cat in /run/vbridge/r/f; echo from the guest >out
		{ echo no >/run/vbridge/r/g; } 2>/dev/null || echo refused')
[ "$out" = "$(printf 'from the host\nread-only\nrefused')" ] &&
	[ "$(cat "$CWD/out" 2>/dev/null)" = "from the guest" ] && [ ! -e "$CWD/ro/g" ]
ok "vbridge run shares the current directory both ways, --share :ro read-only" $?
rm -rf "$CWD"

# No command: an interactive shell on the terminal.  A pty stands in
# for the person (scripts/lib/pty-session.py types once the prompt is
# there; busybox follows it with a cursor-position query, ESC [ 6 n);
# "$$" is expanded by the guest's shell, so "hello-" followed by digits
# is its output, not the echo of what was typed.
out=$(VBRIDGE_QUIET=1 timeout 320 python3 "$ROOT/scripts/lib/pty-session.py" 300 \
	'[#$] (\x1b\[6n)?$' 'echo hello-$$; exit 7' -- "$VBRIDGE" run --kernel "$KERNEL" --no-cwd)
st=$?
# Its last two lines (the typed line and the answer), without the
# terminal's control sequences.
tr -d '\r' <<<"$out" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | tail -n 2 | sed 's/^/# pty: /'
[ "$st" = 7 ] && tr -d '\r' <<<"$out" | grep -q '^hello-[0-9][0-9]*$'
ok "interactive vbridge run on a pty: typed 'echo hello-\$\$; exit 7', got hello-PID and exit 7 (exit $st)" $?

# The Debian root: debootstrap once (cached), then a command on it.
t0=$(date +%s)
"$ROOT/image/minimal/rootfs.sh" debian >/dev/null 2>"$LOGDIR/debootstrap-time.log"
ok "Debian root tree ready ($(($(date +%s) - t0)) s)" $?
out=$(VBRIDGE_QUIET=1 timeout 300 "$VBRIDGE" run --kernel "$KERNEL" --rootfs debian -- cat /etc/os-release)
st=$?
echo "$out" | sed 's/^/# /'
[ "$st" = 0 ] && grep -q '^PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"$' <<<"$out"
ok "vbridge run --rootfs debian -- cat /etc/os-release" $?

exit "$failed"
