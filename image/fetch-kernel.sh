#!/bin/bash
# Fetch the guest kernel (Debian 6.12 "amd64" flavour) without installing
# it: the image, its modules and the headers the module builds against
# are unpacked into the cache, and the few
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

# The headers, unpacked into the cache: installing linux-headers-* would
# pull in the matching linux-image package and rewrite the host's /boot.
KBASE=${KVER%-amd64}
HROOT=$CACHE/headers/$KVER
if [ ! -f "$HROOT/.done" ]; then
	rm -rf "$HROOT"
	mkdir -p "$HROOT/dl"
	(cd "$HROOT/dl" && apt-get download -q "linux-headers-$KVER" \
		"linux-headers-$KBASE-common" "linux-kbuild-$KBASE" >&2)
	for deb in "$HROOT"/dl/*.deb; do
		dpkg-deb -x "$deb" "$HROOT/root"
	done
	SRCVER=$(dpkg-deb -f "$HROOT"/dl/linux-headers-"$KVER"_*.deb Version)
	echo "$SRCVER" >"$HROOT/version"
	rm -rf "$HROOT/dl"
	# Absolute links into /usr/src and /usr/lib point at the unpacked tree.
	find "$HROOT/root" -type l -lname '/usr/*' | while read -r l; do
		ln -sfn "$HROOT/root$(readlink "$l")" "$l"
	done
	# The flavour's Makefile includes the common one by absolute path.
	sed -i "s|^include /usr/src/|include $HROOT/root/usr/src/|" \
		"$HROOT/root/usr/src/linux-headers-$KVER/Makefile"
	# Relative ones (scripts, tools -> ../../lib/linux-kbuild-*) resolve
	# inside the unpacked tree as they are.
	touch "$HROOT/.done"
fi
KDIR=$HROOT/root/usr/src/linux-headers-$KVER
[ -f "$KDIR/Makefile" ] || { echo "fetch-kernel: no headers in $KDIR" >&2; exit 1; }

# Kernel source files used by the selftests and "make style".
SRCVER=$(cat "$HROOT/version")
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
			"$HROOT/root/usr/src/linux-headers-$KBASE-common/include/uapi/drm/$h.h" \
			>"$KSRC/include/uapi/drm/$h.h"
	done
fi

echo "KVER=$KVER"
echo "KDIR=$KDIR"
echo "KIMAGE=$KROOT/root/boot/vmlinuz-$KVER"
echo "KROOT=$KROOT/root"
echo "KMODDIR=$KROOT/root/lib/modules/$KVER"
echo "KSRC=$KSRC"
