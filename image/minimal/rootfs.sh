#!/bin/bash
# Root trees that a guest boots from over vbridge (root=TAG
# rootfstype=vbridgefs), cached under $CACHE/rootfs.  Prints the tree's
# path.
#
# usage: rootfs.sh busybox|debian
#   busybox  busybox-static with its applets and an /etc for root
#   debian   debootstrap --variant=minbase bookworm from the Debian mirror
#            the machine's apt sources use (needs root, takes minutes once)
set -euo pipefail

CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}/rootfs
KIND=${1:?usage: rootfs.sh busybox|debian}
mkdir -p "$CACHE"
# One builder per tree (test.sh starts the Debian one early, in the
# background).
exec 9>"$CACHE/.lock-$KIND"
flock 9

case $KIND in
busybox)
	BB=/bin/busybox
	[ -x "$BB" ] && ! ldd "$BB" >/dev/null 2>&1 ||
		{ echo "rootfs: $BB is not busybox-static (apt-get install busybox-static)" >&2; exit 1; }
	key=$(cat "$BB" "$0" | sha256sum | cut -c1-12)
	DIR=$CACHE/busybox-$key
	if [ ! -f "$DIR.done" ]; then
		rm -rf "$DIR" "$DIR.tmp"
		T=$DIR.tmp
		mkdir -p "$T"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,mnt,run,etc,root}
		chmod 1777 "$T/tmp"
		chmod 0700 "$T/root"
		cp "$BB" "$T/bin/busybox"
		for applet in $("$BB" --list-full); do
			case $applet in bin/busybox|linuxrc) continue ;; esac
			ln -s /bin/busybox "$T/$applet"
		done
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
			>"$T/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65534:\n' >"$T/etc/group"
		printf 'NAME="vbridge busybox"\nID=busybox\n' >"$T/etc/os-release"
		mv "$T" "$DIR"
		touch "$DIR.done"
	fi
	;;
debian)
	DIR=$CACHE/debian-bookworm
	if [ ! -f "$DIR.done" ]; then
		[ "$(id -u)" = 0 ] ||
			{ echo "rootfs: debootstrap needs root" >&2; exit 1; }
		command -v debootstrap >/dev/null ||
			{ echo "rootfs: debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
		MIRROR=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' \
			/etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
		[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
			/etc/apt/sources.list 2>/dev/null)
		[ -n "$MIRROR" ] || { echo "rootfs: no Debian mirror in the apt sources" >&2; exit 1; }
		echo "rootfs: debootstrap --variant=minbase bookworm from $MIRROR (minutes, once)" >&2
		rm -rf "$DIR.tmp"
		start=$(date +%s)
		nice -n 10 debootstrap --variant=minbase bookworm "$DIR.tmp" "$MIRROR" \
			>"$CACHE/debootstrap.log" 2>&1 ||
			{ echo "rootfs: debootstrap failed, see $CACHE/debootstrap.log" >&2; exit 1; }
		# Not needed to boot, and large.
		rm -rf "$DIR.tmp"/var/cache/apt/archives/*.deb
		rm -rf "$DIR"
		mv "$DIR.tmp" "$DIR"
		touch "$DIR.done"
		echo "rootfs: debootstrap took $(($(date +%s) - start)) s" >&2
	fi
	;;
*) echo "rootfs: unknown root tree '$KIND' (busybox or debian)" >&2; exit 2 ;;
esac
echo "$DIR"
