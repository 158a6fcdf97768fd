#!/bin/bash
# Fetch a guest kernel without installing it: the image, its modules and
# the headers the module builds against are unpacked into the cache, and
# the few kernel-source files we need (kselftest harness, checkpatch) are
# taken from linux-source.  Prints shell assignments for KVER, KDIR,
# KIMAGE, KROOT, KMODDIR and KSRC.
#
# usage: fetch-kernel.sh [--series 6.12|6.1] [--flavour amd64|cloud-amd64]
#                        [--no-src]
#   --series   6.12: the bookworm backports/security kernel (default);
#              6.1: Debian 12's own LTS kernel
#   --flavour  Debian kernel flavour (default amd64; cloud-amd64 has no DRM)
#   --no-src   skip the kernel-source files (KSRC is printed empty): only
#              the main kernel's are used, for the selftests and checkpatch
set -euo pipefail

CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}
SERIES=6.12 FLAVOUR=amd64 WANT_SRC=1
while [ $# -gt 0 ]; do
	case $1 in
	--series) SERIES=$2; shift 2 ;;
	--flavour) FLAVOUR=$2; shift 2 ;;
	--no-src) WANT_SRC=''; shift ;;
	*) echo "fetch-kernel: unknown argument $1" >&2; exit 1 ;;
	esac
done

# Newest kernel of the series and flavour with both an image and headers:
# 6.12.N+debX-FLAVOUR, or 6.1.0-N-FLAVOUR (6.1's ABI names).
resolve_kver() {
	local re
	case $SERIES in
	6.1) re='6\.1\.0-[0-9]*' ;;
	*) re="${SERIES//./\\.}\\.[0-9]*+[a-z0-9.~+]*" ;;
	esac
	apt-cache pkgnames "linux-headers-$SERIES." |
		sed -n "s/^linux-headers-\($re\)-$FLAVOUR\$/\1/p" |
		sort -V -r | while read -r v; do
			if apt-cache show "linux-image-$v-$FLAVOUR-unsigned" >/dev/null 2>&1; then
				echo "$v-$FLAVOUR"
				return
			fi
		done
}

KVER=${KVER:-$(resolve_kver)}
[ -n "$KVER" ] || { echo "fetch-kernel: no $SERIES $FLAVOUR kernel in apt sources" >&2; exit 1; }

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
# The flavour's headers name the common headers and the kbuild package
# they need (linux-kbuild-6.12.N+debX, or linux-kbuild-6.1 for 6.1).
KBASE=${KVER%-"$FLAVOUR"}
HROOT=$CACHE/headers/$KVER
if [ ! -f "$HROOT/.done" ]; then
	rm -rf "$HROOT"
	mkdir -p "$HROOT/dl"
	(cd "$HROOT/dl" && apt-get download -q "linux-headers-$KVER" >&2)
	HVER=$(dpkg-deb -f "$HROOT"/dl/linux-headers-"$KVER"_*.deb Version)
	mapfile -t deps < <(dpkg-deb -f "$HROOT"/dl/linux-headers-"$KVER"_*.deb Depends |
		tr ',' '\n' | sed -n 's/^ *\(linux-\(headers-[^ ]*-common\|kbuild-[^ ]*\)\)\( .*\)\?$/\1/p')
	[ ${#deps[@]} -eq 2 ] || { echo "fetch-kernel: linux-headers-$KVER: cannot find its common and kbuild packages" >&2; exit 1; }
	(cd "$HROOT/dl" && apt-get download -q "${deps[@]/%/=$HVER}" >&2)
	for deb in "$HROOT"/dl/*.deb; do
		dpkg-deb -x "$deb" "$HROOT/root"
	done
	echo "$HVER" >"$HROOT/version"
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

# Kernel source files used by the selftests and "make style" (main kernel
# only).
KSRC=''
if [ -n "$WANT_SRC" ]; then
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
fi

echo "KVER=$KVER"
echo "KDIR=$KDIR"
echo "KIMAGE=$KROOT/root/boot/vmlinuz-$KVER"
echo "KROOT=$KROOT/root"
echo "KMODDIR=$KROOT/root/lib/modules/$KVER"
echo "KSRC=$KSRC"
