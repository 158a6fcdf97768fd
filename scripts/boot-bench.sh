#!/bin/bash
# Boot-time benchmark (issue 12): the same busybox tree as the root over
# vbridge, virtio-9p and virtiofs, and as an initramfs; each on the
# minimal kernel and on Debian's, on q35 under one accelerator.  Per
# cell: the guest's uptime when its first command runs (init is that
# command: /bin/sh -c "cat /proc/uptime; reboot -f") and the wall time
# from starting QEMU to that output, best of --runs.  Prints a Markdown
# table.  Needs build/env (scripts/build.sh).
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
(cd "$WORK/root" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) |
	gzip -1 >"$WORK/root.cpio.gz"
INIT='cat /proc/uptime; exec reboot -f'

# boot KERNEL KIND: one boot; prints "UPTIME WALL_MS" or "- -".
boot() {
	local kernel=$1 kind=$2 append args=() sock=$WORK/sock t0 line up wall
	append="console=ttyS0 loglevel=0 reboot=t panic=-1 no_timer_check rw"
	case $kind in
	vbridge)
		if [ "$kernel" = debian ]; then
			# A module there: the project's initramfs loads it.
			args+=(-initrd "$INITRD"); append="$append vb_root=vbroot"
		else
			append="$append root=vbroot rootfstype=vbridgefs"
		fi
		"$VBRIDGED" --socket-path "$sock" --shared-dir "vbroot=$WORK/root" \
			2>/dev/null &
		BACKEND_PID=$!
		args+=(-chardev "socket,id=c,path=$sock"
			-device "vhost-user-vbridge-pci,chardev=c") ;;
	9p)
		[ "$kernel" = minimal ] || { echo "- -"; return; }	# a module
		append="$append root=r9 rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose"
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
		append="$append rdinit=/bin/sh" ;;
	esac
	if [ -n "$BACKEND_PID" ]; then
		for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	fi
	local kimg=$KMIN
	[ "$kernel" = minimal ] || kimg=$KIMAGE
	[ "$kind" = initramfs ] || append="$append init=/bin/sh"
	t0=$(date +%s%N)
	line=$("$QEMU" -accel "$ACCEL" -cpu "$CPU" -M q35,memory-backend=mem -m 512M \
		-object memory-backend-memfd,id=mem,size=512M,share=on \
		-L /usr/share/seabios -L /usr/share/qemu -nodefaults -no-reboot \
		-nic none -display none -monitor none -serial stdio \
		-kernel "$kimg" "${args[@]}" \
		-append "$append -c \"$INIT\"" </dev/null 2>/dev/null |
		tr -d '\r' | grep -m1 -E '^[0-9]+\.[0-9]+ [0-9]+\.[0-9]+$' || true)
	wall=$((($(date +%s%N) - t0) / 1000000))
	if [ -n "$BACKEND_PID" ]; then
		kill "$BACKEND_PID" 2>/dev/null || true
		wait "$BACKEND_PID" 2>/dev/null || true
		BACKEND_PID=
	fi
	rm -f "$sock"
	up=${line%% *}
	if [ -n "$up" ]; then echo "$up $wall"; else echo "- -"; fi
}

echo "| root | minimal: uptime at first command | minimal: wall to output | Debian: uptime at first command | Debian: wall to output |"
echo "|---|---|---|---|---|"
for kind in vbridge 9p virtiofs initramfs; do
	row="| $kind"
	for kernel in minimal debian; do
		best_up=- best_wall=-
		for _ in $(seq "$RUNS"); do
			read -r up wall < <(boot "$kernel" "$kind")
			[ "$up" != - ] || continue
			if [ "$best_wall" = - ] || [ "$wall" -lt "$best_wall" ]; then
				best_up=$up best_wall=$wall
			fi
		done
		if [ "$best_up" = - ]; then
			row="$row | n/a | n/a"
		else
			row="$row | ${best_up} s | ${best_wall} ms"
		fi
	done
	echo "$row |"
done
echo
echo "# $ACCEL, q35, 512 MiB, 1 vCPU, best of $RUNS; $(basename "$KMIN") $(stat -c %s "$KMIN") bytes, Debian $(basename "$KIMAGE") $(stat -c %s "$KIMAGE") bytes"
