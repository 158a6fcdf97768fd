#!/bin/bash
# Build the guest's initramfs: busybox-static, vbridge.ko and
# vbridge_drm.ko (where the kernel has DRM) with the stock modules they
# (and the baselines) depend on, the test programs and an
# init that runs what the kernel command line asks for.
#
# usage: build-initramfs.sh --kroot DIR --kver VER --module vbridge.ko
#                           [--module vbridge_drm.ko]... --bin DIR
#                           --out FILE [--extra-module NAME]...
#                           [--host-bin PROGRAM]...
#   --kroot         unpacked linux-image package (has lib/modules/VER)
#   --module        our module, installed in lib/modules/VER/extra
#   --bin           directory of static programs copied to /usr/bin
#   --extra-module  stock module to include with its dependencies
#   --host-bin      dynamically linked host program (e.g. modetest) copied
#                   to /usr/bin with the shared libraries it needs
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
KROOT='' KVER='' BIN='' OUT=''
MODULES=() EXTRA=() HOSTBIN=()
while [ $# -gt 0 ]; do
	case $1 in
	--kroot) KROOT=$2; shift 2 ;;
	--kver) KVER=$2; shift 2 ;;
	--module) MODULES+=("$2"); shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--extra-module) EXTRA+=("$2"); shift 2 ;;
	--host-bin) HOSTBIN+=("$2"); shift 2 ;;
	*) echo "build-initramfs: unknown argument $1" >&2; exit 1 ;;
	esac
done
for v in KROOT KVER BIN OUT; do
	[ -n "${!v}" ] || { echo "build-initramfs: --${v,,} is required" >&2; exit 1; }
done
[ ${#MODULES[@]} -gt 0 ] || { echo "build-initramfs: --module is required" >&2; exit 1; }

STAGE=$(mktemp -d)
# The guest's "/": mktemp made it 0700, which locked every unprivileged
# guest user out of the whole tree (and made access tests pass vacuously).
chmod 0755 "$STAGE"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,run,etc,root}
# mktemp made the root 0700: other users could reach nothing.
chmod 0755 "$STAGE"
chmod 1777 "$STAGE/tmp"
mkdir -p "$STAGE/lib/modules/$KVER/extra"

cp /bin/busybox "$STAGE/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$STAGE/bin/$applet"
done
# The kernel runs /sbin/modprobe for request_module(): vbridge.ko asks
# for vbridge_drm.ko that way.
ln -sf ../bin/busybox "$STAGE/sbin/modprobe"

# Stock modules: what our modules link against (but each other) plus the
# extras, each with its dependency closure, decompressed so busybox
# modprobe loads it.
ours=$(for m in "${MODULES[@]}"; do basename "$m" .ko; done)
mapfile -t wanted < <(
	{ for m in "${MODULES[@]}"; do modinfo -F depends "$m" | tr ',' '\n'; done
	  printf '%s\n' "${EXTRA[@]}"; } |
		sed '/^$/d' | sort -u | grep -vxF "$ours")
for m in "${wanted[@]}"; do
	modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" |
		awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r ko; do
	rel=${ko#"$KROOT/lib/modules/$KVER/"}
	dst="$STAGE/lib/modules/$KVER/${rel%.xz}"
	mkdir -p "$(dirname "$dst")"
	# Debian's 6.12 modules are xz-compressed, its 6.1 ones are not.
	case $ko in
	*.xz) xz -dc "$ko" >"$dst" ;;
	*) cp "$ko" "$dst" ;;
	esac
done
cp "$KROOT/lib/modules/$KVER"/modules.{builtin,builtin.modinfo,order} \
	"$STAGE/lib/modules/$KVER/"
cp "${MODULES[@]}" "$STAGE/lib/modules/$KVER/extra/"
depmod -b "$STAGE" "$KVER"

cp -a "$BIN"/. "$STAGE/usr/bin/"
# Host programs and their libraries (the loader included), at the same
# paths as on the host.
# glibc dlopen()s libgcc_s for pthread_cancel() and unwinding, which ldd
# does not show.  A library ldd cannot find fails the build rather than
# the program in the guest.
GCC_S=$(ldconfig -p | awk '$1 == "libgcc_s.so.1" && /x86-64/ { p = $NF } END { print p }')
for prog in "${HOSTBIN[@]}"; do
	cp "$prog" "$STAGE/usr/bin/"
	deps=$(ldd "$prog" 2>&1) || continue	# static: nothing to add
	if grep -q 'not found' <<<"$deps"; then
		echo "build-initramfs: $prog: missing libraries:" >&2
		grep 'not found' <<<"$deps" >&2
		exit 1
	fi
	{ grep -o '/[^ ]*' <<<"$deps"; [ -z "$GCC_S" ] || echo "$GCC_S"; } |
	while read -r lib; do
		[ -e "$STAGE$lib" ] && continue
		mkdir -p "$STAGE$(dirname "$lib")"
		cp -L "$lib" "$STAGE$lib"
	done
done
install -m 0755 "$HERE/init" "$STAGE/init"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -print0 | sort -z |
	cpio --null -o -H newc --quiet --owner=0:0) | gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
