#!/bin/bash
# Build the minimal vbridge guest kernel: Debian's linux-source-6.12,
# "make tinyconfig", then vbridge.config, with vbridge built in through
# scripts/intree.sh.  Cached: the source and the build folder are kept
# (a driver change rebuilds incrementally), and each image is kept under
# $CACHE/minimal-kernel/<key>, the key a hash of the source version, the
# fragment and the driver.  Prints the bzImage's path.
#
# usage: build-kernel.sh [--srcver VERSION]
#   VERSION of linux-source-6.12 (default: the guest kernel's, as
#   image/fetch-kernel.sh resolves it, else apt's candidate).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}/minimal-kernel
FRAGMENT=$HERE/vbridge.config
SRCVER=
while [ $# -gt 0 ]; do
	case $1 in
	--srcver) SRCVER=$2; shift 2 ;;
	*) echo "build-kernel: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$SRCVER" ]; then
	SRCVER=$(cat "${VBRIDGE_CACHE:-/var/cache/vbridge}"/headers/*/version 2>/dev/null |
		sort -V | tail -n 1)
fi
if [ -z "$SRCVER" ]; then
	SRCVER=$(apt-cache policy linux-source-6.12 | awk '/Candidate:/ { print $2 }')
fi
[ -n "$SRCVER" ] && [ "$SRCVER" != "(none)" ] ||
	{ echo "build-kernel: no linux-source-6.12 in the apt sources" >&2; exit 1; }

KEY=$(
	{
		echo "$SRCVER"
		cat "$FRAGMENT" "$HERE/build-kernel.sh" "$ROOT/scripts/intree.sh" \
			"$ROOT/Kbuild" "$ROOT/driver/Kconfig" "$ROOT/include/uapi/linux/vbridge.h"
		for f in "$ROOT"/driver/*.[ch]; do echo "$f"; cat "$f"; done
	} | sha256sum | cut -c1-16)
OUT=$CACHE/$KEY
if [ -f "$OUT/bzImage" ]; then
	echo "$OUT/bzImage"
	exit 0
fi

mkdir -p "$CACHE"
# One build at a time: the tree and the build folder are shared.
exec 9>"$CACHE/.lock"
flock 9
[ ! -f "$OUT/bzImage" ] || { echo "$OUT/bzImage"; exit 0; }

SRC=$CACHE/src/$SRCVER
if [ ! -f "$SRC/.done" ]; then
	echo "build-kernel: fetching linux-source-6.12 $SRCVER" >&2
	rm -rf "$SRC"
	mkdir -p "$SRC/dl"
	(cd "$SRC/dl" && apt-get download -q "linux-source-6.12=$SRCVER" >&2)
	dpkg-deb --fsys-tarfile "$SRC"/dl/linux-source-*.deb |
		tar -x -C "$SRC/dl" --wildcards '*/linux-source-*.tar.xz'
	tar -xJf "$SRC"/dl/usr/src/linux-source-*.tar.xz -C "$SRC" --strip-components=1
	rm -rf "$SRC/dl"
	touch "$SRC/.done"
fi
"$ROOT/scripts/intree.sh" "$SRC" 2>/dev/null

BUILD=$CACHE/build/$SRCVER
mkdir -p "$BUILD"
KMAKE=(make -s -C "$SRC" O="$BUILD" ARCH=x86_64)
frag_hash=$(cat "$FRAGMENT" "$ROOT/driver/Kconfig" | sha256sum | cut -c1-16)
if [ "$(cat "$BUILD/.fragment" 2>/dev/null)" != "$frag_hash" ]; then
	echo "build-kernel: configuring (tinyconfig + $(basename "$FRAGMENT"))" >&2
	"${KMAKE[@]}" tinyconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" \
		"$FRAGMENT" >/dev/null
	"${KMAKE[@]}" olddefconfig >/dev/null
	# Every option asked for must have survived olddefconfig.
	missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$FRAGMENT" | while read -r line; do
		grep -qx "$line" "$BUILD/.config" || echo "$line"
	done)
	if [ -n "$missing" ]; then
		echo "build-kernel: options lost (unmet dependencies):" $missing >&2
		exit 1
	fi
	echo "$frag_hash" >"$BUILD/.fragment"
fi

echo "build-kernel: building $SRCVER (tinyconfig + vbridge), this takes minutes" >&2
start=$(date +%s)
nice -n 10 "${KMAKE[@]}" -j"${VBRIDGE_KJOBS:-2}" bzImage >&2
mkdir -p "$OUT.tmp"
cp "$BUILD/arch/x86/boot/bzImage" "$BUILD/.config" "$OUT.tmp/"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "build-kernel: bzImage $(stat -c %s "$OUT/bzImage") bytes in $(($(date +%s) - start)) s" >&2
echo "$OUT/bzImage"
