#!/bin/bash
# Fetch the guest kernel (Debian 6.12 "amd64" flavour) without installing
# it: the image and its modules are unpacked into the cache, the headers
# are installed so that the module builds against them, and the few
# kernel-source files we need (kselftest harness, checkpatch) are taken
# from linux-source.  Prints shell assignments for KVER, KDIR, KIMAGE,
# KMODDIR and KSRC.
set -euo pipefail

CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}

# Newest 6.12 amd64 flavour with both an image and headers.
resolve_kver() {
	apt-cache pkgnames linux-headers-6.12. |
		sed -n 's/^linux-headers-\(6\.12\.[0-9]*+[a-z0-9.~+]*\)-amd64$/\1/p' |
		sort -V -r | while read -r v; do
			if apt-cache show "linux-image-$v-amd64-unsigned" >/dev/null 2>&1; then
				echo "$v-amd64"
				return
			fi
		done
}

KVER=${KVER:-$(resolve_kver)}
[ -n "$KVER" ] || { echo "fetch-kernel: no 6.12 amd64 kernel in apt sources" >&2; exit 1; }

KROOT=$CACHE/kernel/$KVER
if [ ! -f "$KROOT/.done" ]; then
	rm -rf "$KROOT"
	mkdir -p "$KROOT/dl"
	(cd "$KROOT/dl" && apt-get download -q "linux-image-$KVER-unsigned" >&2)
	dpkg-deb -x "$KROOT"/dl/linux-image-*.deb "$KROOT/root"
	rm -rf "$KROOT/dl"
	# The package leaves modules.dep to its postinst; the image builder
	# resolves module dependencies from it.
	depmod -b "$KROOT/root" "$KVER"
	touch "$KROOT/.done"
fi

if ! dpkg-query -W -f='${Status}' "linux-headers-$KVER" 2>/dev/null | grep -q 'ok installed'; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"linux-headers-$KVER" >&2
fi

# Kernel source files used by the selftests and "make style".
SRCVER=$(dpkg-query -W -f='${Version}' "linux-headers-$KVER")
KSRC=$CACHE/linux-src/$SRCVER
if [ ! -f "$KSRC/.done" ]; then
	rm -rf "$KSRC"
	mkdir -p "$KSRC/dl"
	(cd "$KSRC/dl" && apt-get download -q "linux-source-${KVER%%.[0-9]*+*}=$SRCVER" >&2) ||
		(cd "$KSRC/dl" && apt-get download -q "linux-source-6.12=$SRCVER" >&2)
	dpkg-deb --fsys-tarfile "$KSRC"/dl/linux-source-*.deb |
		tar -x -C "$KSRC/dl" --wildcards '*/linux-source-*.tar.xz'
	tar -xJf "$KSRC"/dl/usr/src/linux-source-*.tar.xz -C "$KSRC" --strip-components=1 \
		--wildcards '*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	rm -rf "$KSRC/dl"
	touch "$KSRC/.done"
fi
# The DRM uapi headers for the display selftest (linux-libc-dev has none),
# cleaned up for user space as headers_install does.
if [ ! -f "$KSRC/include/uapi/drm/drm_mode.h" ]; then
	mkdir -p "$KSRC/include/uapi/drm"
	for h in drm drm_mode; do
		sed -E 's/([[:space:](])__user[[:space:]]/\1/g' \
			"/usr/src/linux-headers-${KVER%-amd64}-common/include/uapi/drm/$h.h" \
			>"$KSRC/include/uapi/drm/$h.h"
	done
fi

echo "KVER=$KVER"
echo "KDIR=/usr/src/linux-headers-$KVER"
echo "KIMAGE=$KROOT/root/boot/vmlinuz-$KVER"
echo "KROOT=$KROOT/root"
echo "KMODDIR=$KROOT/root/lib/modules/$KVER"
echo "KSRC=$KSRC"
