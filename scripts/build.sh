#!/bin/bash
# Set up the machine and build everything: QEMU with the vbridge device
# (cached outside the clone), the guest kernel files, vbridge.ko,
# vbridged, the guest programs and the initramfs.  Writes build/env.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc)

step() { printf '==> %s\n' "$*" >&2; }

step "host packages"
"$ROOT/scripts/setup-host.sh"

step "guest kernel"
eval "$("$ROOT/image/fetch-kernel.sh")"

step "QEMU with the vbridge device"
QEMU=$("$ROOT/host-side/qemu/build-qemu.sh" | tail -n 1)
[ -x "$QEMU" ] || { echo "build: QEMU build gave no binary" >&2; exit 1; }

step "vbridge.ko and vbridge_drm.ko against $KVER"
make -s -j"$JOBS" KDIR="$KDIR" >&2
MODULES=(--module "$ROOT/vbridge.ko" --module "$ROOT/vbridge_drm.ko")

step "vbridged"
make -s -j"$JOBS" -C host-side >&2

step "guest programs and initramfs"
GUEST_BIN=$ROOT/build/guest-bin
rm -rf "$GUEST_BIN"
mkdir -p "$GUEST_BIN"
make -s -C selftests O="$GUEST_BIN" KSRC="$KSRC" >&2
gcc -static -O2 -Wall -Wextra -Werror -Iinclude/uapi \
	tools/vbridge-info.c -o "$GUEST_BIN/vbridge-info"
gcc -static -O2 -Wall -Wextra -Werror \
	bench/vbridge_fs_bench.c -o "$GUEST_BIN/vbridge_fs_bench"
gcc -static -O2 -Wall -Wextra -Werror -Iinclude/uapi \
	-idirafter "$KSRC/include/uapi" \
	bench/vbridge_display_bench.c -o "$GUEST_BIN/vbridge_display_bench"
cp image/guest/vb-* "$GUEST_BIN/"
# ubridge, the userspace bridge: libfuse3 has no static library in
# Debian, so it goes in with its shared libraries (--host-bin).
gcc -O2 -Wall -Wextra -Wno-unused-parameter -Werror -Iinclude/uapi \
	$(pkg-config --cflags fuse3) tools/ubridge/*.c \
	-o "$ROOT/build/ubridge" $(pkg-config --libs fuse3)
# Stock modules for the bench job's baselines, which only it loads: 9p
# and virtio-gpu.  modetest (libdrm-tests) for the display part of the
# guest test job.
HOST_BINS=(--host-bin "$ROOT/build/ubridge")
[ ! -x /usr/bin/modetest ] || HOST_BINS+=(--host-bin /usr/bin/modetest)
"$ROOT/image/build-initramfs.sh" --kroot "$KROOT" \
	--kver "$KVER" "${MODULES[@]}" --bin "$GUEST_BIN" \
	--extra-module 9p --extra-module 9pnet_virtio \
	--extra-module virtio-gpu --extra-module virtio_mmio "${HOST_BINS[@]}" \
	--out "$ROOT/build/initramfs.cpio.gz"
# The root initramfs of "vbridge run --kernel debian" and of the boot
# benchmark: one static init and the modules, uncompressed.
"$ROOT/image/build-rootinit.sh" --kroot "$KROOT" --kver "$KVER" \
	--vbridge "$ROOT/vbridge.ko" --vbridge-drm "$ROOT/vbridge_drm.ko" \
	--out "$ROOT/build/rootinit.cpio"
# The data-integrity boot (job vb-data) also gets stress-ng and fio, with
# their ~100 MB of libraries: an image of its own, so that the other
# boots stay small.
"$ROOT/image/build-initramfs.sh" --kroot "$KROOT" \
	--kver "$KVER" "${MODULES[@]}" --bin "$GUEST_BIN" \
	"${HOST_BINS[@]}" --host-bin /usr/bin/stress-ng --host-bin /usr/bin/fio \
	--out "$ROOT/build/initramfs-data.cpio.gz"

# --- kernel matrix (issue 11): the modules built and packed for the other
# kernels scripts/test.sh boots a smoke test on.  The versions are
# resolved here, as the main kernel's is: the newest 6.12 cloud-amd64
# (no DRM: the core module alone) and Debian 12's own 6.1 LTS.  Each
# builds in a copy of the sources, as the tree's objects are the main
# kernel's.
MATRIX_ENV=''
matrix_kernel() {	# NAME fetch-kernel.sh ARGUMENTS...
	local name=$1 obj=$ROOT/build/kmod-$1 mods
	shift
	local M_KVER M_KDIR M_KROOT M_KIMAGE M_KMODDIR M_KSRC
	eval "$("$ROOT/image/fetch-kernel.sh" --no-src "$@" | sed 's/^/M_/')"
	step "matrix $name: modules against $M_KVER"
	mkdir -p "$obj"
	# -u: unchanged sources keep their timestamps, so the build is
	# incremental.
	cp -a -u Kbuild Makefile driver include "$obj/"
	make -s -j"$JOBS" -C "$M_KDIR" M="$obj" modules >&2
	mods=(--module "$obj/vbridge.ko")
	[ ! -f "$obj/vbridge_drm.ko" ] || mods+=(--module "$obj/vbridge_drm.ko")
	"$ROOT/image/build-initramfs.sh" --kroot "$M_KROOT" --kver "$M_KVER" \
		"${mods[@]}" --extra-module virtio_pci --bin "$GUEST_BIN" \
		--out "$ROOT/build/initramfs-$name.cpio.gz"
	MATRIX_ENV+="KVER_${name^^}=$M_KVER
KIMAGE_${name^^}=$M_KIMAGE
INITRD_${name^^}=$ROOT/build/initramfs-$name.cpio.gz
"
}
matrix_kernel cloud --flavour cloud-amd64
matrix_kernel lts --series 6.1
# --- end of the kernel matrix

cat >"$ROOT/build/env" <<EOV
KVER=$KVER
KDIR=$KDIR
KSRC=$KSRC
KIMAGE=$KIMAGE
QEMU=$QEMU
VBRIDGED=$ROOT/host-side/build/vbridged
INITRD=$ROOT/build/initramfs.cpio.gz
INITRD_DATA=$ROOT/build/initramfs-data.cpio.gz
ROOTINIT=$ROOT/build/rootinit.cpio
EOV
printf '%s' "$MATRIX_ENV" >>"$ROOT/build/env"
step "build done"
