#!/bin/bash
# Build the small initramfs with which a kernel that has vbridge as a
# module (Debian's) boots with its root over vbridge or 9p: /init is
# tools/vbridge-rootinit.c, static, and the modules come in sets under
# /lib/modules/SET, each in load order, decompressed and without debug
# information; the archive is not compressed (under TCG, unpacking the
# gzip'ed test initramfs and running its shell script took seconds).
#
#   vbridgefs  vbridge.ko and what it needs
#   9p         the 9p baseline of scripts/boot-bench.sh
#   mmio       virtio_mmio (microvm: its devices are in ACPI there)
#   display    vbridge_drm.ko and DRM (vbridge run --display)
#
# usage: build-rootinit.sh --kroot DIR --kver VER --vbridge vbridge.ko
#                          --vbridge-drm vbridge_drm.ko --out FILE
#   --kroot  unpacked linux-image package (has lib/modules/VER)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KROOT='' KVER='' VBKO='' VBDRM='' OUT=''
while [ $# -gt 0 ]; do
	case $1 in
	--kroot) KROOT=$2; shift 2 ;;
	--kver) KVER=$2; shift 2 ;;
	--vbridge) VBKO=$2; shift 2 ;;
	--vbridge-drm) VBDRM=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	*) echo "build-rootinit: unknown argument $1" >&2; exit 1 ;;
	esac
done
for v in KROOT KVER VBKO OUT; do
	[ -n "${!v}" ] || { echo "build-rootinit: a value for ${v,,} is required" >&2; exit 1; }
done

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
mkdir -p "$STAGE"/{bin,dev,lib/modules}
gcc -static -Os -s -Wall -Wextra -Werror "$ROOT/tools/vbridge-rootinit.c" \
	-o "$STAGE/init"

# The stock modules NAME... need, dependencies first, as paths.
stock_closure() {
	local m
	for m in "$@"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" |
			awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++'
}
# set NAME [--ours KO]... [STOCK]...: the set's files, numbered in load
# order; a module already in an earlier set is left out.
declare -A placed
set_add() {
	local set=$1 n=0 ko name stock=() ours=()
	shift
	mkdir -p "$STAGE/lib/modules/$set"
	while [ $# -gt 0 ]; do
		case $1 in
		--ours)
			ours+=("$2")
			# Its stock dependencies (ours are in an earlier set).
			for name in $(modinfo -F depends "$2" | tr ',' ' '); do
				[ -n "${placed[$name]:-}" ] || stock+=("$name")
			done
			shift 2 ;;
		*) stock+=("$1"); shift ;;
		esac
	done
	for ko in $( [ ${#stock[@]} -eq 0 ] || stock_closure "${stock[@]}") "${ours[@]}"; do
		name=$(basename "${ko%.xz}" .ko)
		[ -z "${placed[$name]:-}" ] || continue
		placed[$name]=1
		n=$((n + 1))
		dst=$STAGE/lib/modules/$set/$(printf '%02d' "$n")-$name.ko
		case $ko in
		*.xz) xz -dc "$ko" >"$dst" ;;
		*) cp "$ko" "$dst" ;;
		esac
		strip --strip-debug "$dst"
	done
}
set_add vbridgefs --ours "$VBKO"
set_add 9p 9pnet_virtio 9p
set_add mmio virtio_mmio
[ -z "$VBDRM" ] || set_add display --ours "$VBDRM"

mkdir -p "$(dirname "$OUT")"
(cd "$STAGE" && find . -print0 | sort -z |
	cpio --null -o -H newc --quiet --owner=0:0) >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
