#!/bin/bash
# Boot-time benchmark (issue 12): the same busybox tree as the root over
# vbridge, virtio-9p and virtiofs, and as an initramfs; each on the
# minimal kernel and on Debian's, on q35 under one accelerator.  Per
# cell, best of --runs (by wall time): the guest's uptime when the
# kernel started its first process ("Run ... as init process" in the
# kernel log: the initramfs's /init where there is one), its uptime when
# the first command on the root ran (/bench-init, a script in the tree:
# it reads /proc/uptime and powers off), and the wall time from starting
# QEMU to that command's output.  Prints a Markdown table.  Needs
# build/env (scripts/build.sh).
#
# Debian's kernel has vbridge and 9p as modules: those two boot through
# the small initramfs of image/build-rootinit.sh (build/rootinit.cpio,
# vb_root=), which loads them and switches to the root; virtiofs is
# built in there.
#
# usage: boot-bench.sh [--runs N] [--accel tcg|kvm]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$ROOT/build/env"
RUNS=3 ACCEL=${VBRIDGE_ACCEL:-tcg}
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--accel) ACCEL=$2; shift 2 ;;
	*) echo "boot-bench: unknown argument $1" >&2; exit 2 ;;
	esac
done
CPU=max
[ "$ACCEL" = tcg ] || CPU=host

KMIN=$("$ROOT/image/minimal/build-kernel.sh")
VIRTIOFSD=$("$ROOT/scripts/fetch-virtiofsd.sh")
BB=$("$ROOT/image/minimal/rootfs.sh" busybox)
WORK=$(mktemp -d /tmp/vbridge-bootbench.XXXXXX)
BACKEND_PID=
cleanup() {
	[ -z "$BACKEND_PID" ] || kill "$BACKEND_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
cp -a "$BB" "$WORK/root"
chmod 0755 "$WORK/root"
# The first command: no "." or "=" in its name, which the kernel would
# not pass on to init.  "read" is a shell builtin: no fork before the
# uptime is read, only the mount of /proc.
cat >"$WORK/root/bench-init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc 2>/dev/null
read -r up _ </proc/uptime
init=$(dmesg | sed -n 's/^\[ *\([0-9.]*\)\] Run .* as init process$/\1/p' | head -n 1)
echo "BOOTBENCH $up ${init:--}"
exec reboot -f
EOF
chmod 0755 "$WORK/root/bench-init"
(cd "$WORK/root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) |
	gzip -1 >"$WORK/root.cpio.gz"

# boot KERNEL KIND: one boot; prints "INIT_UPTIME CMD_UPTIME WALL_MS",
# or "- - -" when it printed nothing.
boot() {
	local kernel=$1 kind=$2 append args=() sock=$WORK/sock t0 line wall
	local viainitrd=0 p9opts=trans=virtio,version=9p2000.L,msize=512000,cache=loose
	append="console=ttyS0 loglevel=0 reboot=t panic=-1 no_timer_check rw"
	case $kind in
	vbridge)
		if [ "$kernel" = debian ]; then
			viainitrd=1; append="$append vb_root=vbroot"
		else
			append="$append root=vbroot rootfstype=vbridgefs"
		fi
		"$VBRIDGED" --socket-path "$sock" --shared-dir "vbroot=$WORK/root" \
			>/dev/null 2>&1 &
		BACKEND_PID=$!
		args+=(-chardev "socket,id=c,path=$sock"
			-device "vhost-user-vbridge-pci,chardev=c") ;;
	9p)
		if [ "$kernel" = debian ]; then
			viainitrd=1; append="$append vb_root=r9 vb_rootfstype=9p vb_rootflags=$p9opts"
		else
			append="$append root=r9 rootfstype=9p rootflags=$p9opts"
		fi
		args+=(-virtfs "local,path=$WORK/root,mount_tag=r9,security_model=none,id=r9") ;;
	virtiofs)
		"$VIRTIOFSD" --socket-path="$sock" -o source="$WORK/root" \
			-o cache=auto >/dev/null 2>&1 &
		BACKEND_PID=$!
		append="$append root=rfs rootfstype=virtiofs"
		args+=(-chardev "socket,id=c,path=$sock"
			-device "vhost-user-fs-pci,chardev=c,tag=rfs") ;;
	initramfs)
		args+=(-initrd "$WORK/root.cpio.gz")
		append="$append rdinit=/bench-init" ;;
	esac
	if [ "$viainitrd" = 1 ]; then
		# Its /init runs the root's /bin/sh with what follows "--".
		args+=(-initrd "$ROOTINIT")
		append="$append -- /bench-init"
	elif [ "$kind" != initramfs ]; then
		append="$append init=/bench-init"
	fi
	if [ -n "$BACKEND_PID" ]; then
		for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	fi
	local kimg=$KMIN
	[ "$kernel" = minimal ] || kimg=$KIMAGE
	t0=$(date +%s%N)
	line=$(timeout 300 "$QEMU" -accel "$ACCEL" -cpu "$CPU" -M q35,memory-backend=mem -m 512M \
		-object memory-backend-memfd,id=mem,size=512M,share=on \
		-L /usr/share/seabios -L /usr/share/qemu -nodefaults -no-reboot \
		-nic none -display none -monitor none -serial stdio \
		-kernel "$kimg" "${args[@]}" -append "$append" </dev/null 2>/dev/null |
		tr -d '\r' | { grep -m1 '^BOOTBENCH ' && date +%s%N; } || true)
	# The time the line came, not when QEMU exited: the substitution
	# waits for the whole pipeline, the guest's reboot and QEMU's exit.
	wall=0
	if [ -n "$line" ]; then
		wall=$(((${line##*$'\n'} - t0) / 1000000))
		line=${line%%$'\n'*}
	fi
	if [ -n "$BACKEND_PID" ]; then
		kill "$BACKEND_PID" 2>/dev/null || true
		wait "$BACKEND_PID" 2>/dev/null || true
		BACKEND_PID=
	fi
	rm -f "$sock"
	read -r _ up init <<<"$line"
	if [ -n "${init:-}" ]; then echo "$init $up $wall"; else echo "- - -"; fi
}

echo "| root | minimal: /init | minimal: first command | minimal: wall to output | Debian: /init | Debian: first command | Debian: wall to output |"
echo "|---|---|---|---|---|---|---|"
for kind in vbridge 9p virtiofs initramfs; do
	row="| $kind"
	for kernel in minimal debian; do
		best_init=- best_up=- best_wall=-
		for _ in $(seq "$RUNS"); do
			read -r init up wall < <(boot "$kernel" "$kind")
			[ "$up" != - ] || continue
			if [ "$best_wall" = - ] || [ "$wall" -lt "$best_wall" ]; then
				best_init=$init best_up=$up best_wall=$wall
			fi
		done
		if [ "$best_up" = - ]; then
			row="$row | n/a | n/a | n/a"
		else
			row="$row | ${best_init} s | ${best_up} s | ${best_wall} ms"
		fi
	done
	echo "$row |"
done
echo
echo "# $ACCEL, q35, 512 MiB, 1 vCPU, best of $RUNS (by wall time); minimal bzImage $(stat -c %s "$KMIN") bytes, Debian $(basename "$KIMAGE") $(stat -c %s "$KIMAGE") bytes, root initramfs $(stat -c %s "$ROOTINIT") bytes, busybox initramfs $(stat -c %s "$WORK/root.cpio.gz") bytes"
