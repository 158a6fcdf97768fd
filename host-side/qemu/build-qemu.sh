#!/bin/bash
# Build a qemu-system-x86_64 with the vhost-user-vbridge devices.
#
# Takes Debian trixie's QEMU source package, applies every patch in
# patches/ in order, installs the vbridge wire protocol header converted
# to QEMU's standard-headers form, and builds only qemu-system-x86_64.
#
# The result is cached in
#   ${VBRIDGE_CACHE:-/var/cache/vbridge}/qemu/<source-version>-<hash>/
# where <hash> covers this script (and so its configure flags), the
# patches and vbridge.h.  A cache entry is complete when it holds the
# marker file .complete (written last); a complete entry is reused as
# is.  An entry is installed into a staging folder and renamed into
# place at the end.
#
# The configured source and build tree is kept, keyed by the source
# version and this script only (qemu/tree-<version>-<hash>), so that a
# change to vbridge.h or to the patches is an incremental rebuild of the
# few files they touch rather than a full build: the patches the tree
# has are kept in it, reverted and replaced by the new ones.  Only the
# qemu-system-x86_64 target is built.
#
# The last line on stdout is the path of the qemu-system-x86_64 binary;
# everything else goes to stderr or to the build log.
#
# Environment:
#   VBRIDGE_CACHE        cache root (default /var/cache/vbridge)
#   VBRIDGE_SKIP_SETUP=1 do not run scripts/setup-host.sh
#   VBRIDGE_KEEP_TREE=0  delete the build tree (1.5 GB) after success
set -euo pipefail

# Keep stdout for the result only; fd 4 is the terminal for progress.
exec 3>&1 1>&2 4>&2

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
HDR="$TOP/include/uapi/linux/vbridge.h"
CACHE=${VBRIDGE_CACHE:-/var/cache/vbridge}
SRCDIR="$CACHE/src"
SUITE=trixie

# The install is relocatable; this prefix only names the staging subtree.
PREFIX=/opt/vbridge-qemu

CONFIGURE_FLAGS=(
	--prefix="$PREFIX"
	--python=/usr/bin/python3
	--target-list=x86_64-softmmu
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
	--enable-kvm
	--enable-vhost-user
	--enable-virtfs
	--enable-slirp
	--enable-pixman
	--enable-vnc
	--enable-fdt=system
	--disable-download
	--disable-install-blobs
	--disable-docs
	--disable-werror
	--disable-tools
	--disable-guest-agent
	--disable-gtk
	--disable-sdl
	--disable-opengl
	--disable-spice
	--disable-xen
	--disable-curses
	--disable-libusb
	--disable-usb-redir
	--disable-capstone
)

die() { echo "build-qemu: $*" >&2; exit 1; }
log() { echo "build-qemu: $*" >&2; }

# Convert a Linux uapi header for include/standard-headers/, with the
# sed expressions of QEMU's scripts/update-linux-headers.sh (cp_portable)
# that apply to it; then drop the #ifdef __KERNEL__ block that only held
# the ioctl.h includes.
cp_portable() {
	local f=$1 to=$2
	if grep '#include' "$f" | grep -v -e 'linux/types' -e 'linux/ioctl' \
			-e 'sys/ioctl' >/dev/null; then
		die "unexpected #include in $f"
	fi
	sed -e 's/__aligned_u64/__u64 __attribute__((aligned(8)))/g' \
	    -e 's/__u\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/u\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/__s\([0-9][0-9]*\)/int\1_t/g' \
	    -e 's/__le\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/__be\([0-9][0-9]*\)/uint\1_t/g' \
	    -e 's/<linux\/\([^>]*\)>/"standard-headers\/linux\/\1"/' \
	    -e 's/__bitwise//' \
	    -e 's/__attribute__((packed))/QEMU_PACKED/' \
	    -e 's/__inline__/inline/' \
	    -e '/sys\/ioctl.h/d' \
	    -e '/linux\/ioctl.h/d' \
	    "$f" |
	sed -e '/^#ifdef __KERNEL__$/{N;N;/^#ifdef __KERNEL__\n#else\n#endif$/d}' \
	    >"$to"
	if grep -n -e '__KERNEL__' -e '\b__\(u\|s\|le\|be\)[0-9]' "$to" >&2; then
		die "conversion of $f left kernel-only constructs in $to"
	fi
}

# Short content hash of files, names included.
sum() {
	local f
	for f in "$@"; do
		printf '== %s\n' "$(basename "$f")"
		cat "$f"
	done | sha256sum | cut -c1-16
}

# Apply $PATCHES to $src, keeping a copy of what was applied.
apply_patches() {
	local p
	rm -rf "$tree/applied"
	mkdir -p "$tree/applied"
	for p in "${PATCHES[@]}"; do
		echo "== patch $(basename "$p")"
		patch -d "$src" -p1 --batch --forward <"$p"
		cp "$p" "$tree/applied/"
	done
}

# Copy ninja's output to the log, and a progress line to the terminal
# every 30 s, so that a long build is seen to be alive.
progress() {
	local line last=$SECONDS
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [ $((SECONDS - last)) -ge 30 ] && [[ $line == \[*/*\]* ]]; then
			last=$SECONDS
			echo "build-qemu: ${line%%]*}] after $((SECONDS - start)) s" >&4
		fi
	done
}

[ -f "$HDR" ] || die "missing $HDR"
ORIG_HDR=$HDR
shopt -s nullglob
PATCHES=("$HERE"/patches/*.patch)
shopt -u nullglob
[ ${#PATCHES[@]} -gt 0 ] || die "no patches in $HERE/patches"

if [ "${VBRIDGE_SKIP_SETUP:-0}" != 1 ]; then
	if [ "$(id -u)" = 0 ]; then
		"$TOP/scripts/setup-host.sh" >&2
	else
		log "not root: skipping scripts/setup-host.sh"
	fi
fi

# Resolve the source package: the version apt offers for $SUITE, or
# failing that the newest .dsc already in the cache.
mkdir -p "$SRCDIR" "$CACHE/qemu"
dsc=$(apt-get source --print-uris -qq "qemu/$SUITE" 2>/dev/null |
	awk '$2 ~ /^qemu_.*\.dsc$/ { print $2; exit }' || true)
if [ -n "$dsc" ]; then
	if [ ! -f "$SRCDIR/$dsc" ]; then
		log "downloading qemu/$SUITE source ($dsc)"
		(cd "$SRCDIR" && apt-get source -q --download-only "qemu/$SUITE") >&2
	fi
else
	dsc=$(cd "$SRCDIR" && ls qemu_*.dsc 2>/dev/null | sort -V | tail -n 1)
	[ -n "$dsc" ] || die "no qemu source package: apt-get source qemu/$SUITE failed"
	log "apt has no qemu/$SUITE source, using cached $dsc"
fi
dsc="$SRCDIR/$dsc"
[ -f "$dsc" ] || die "missing $dsc"
version=$(sed -n 's/^Version: *//p' "$dsc" | head -n 1)
[ -n "$version" ] || die "no Version in $dsc"
version=${version#*:}		# drop the epoch

# Work from a snapshot of the header: it may be edited while we build.
snap=$(mktemp -d)
trap 'rm -rf "$snap"' EXIT
cp "$HDR" "$snap/vbridge.h"
HDR="$snap/vbridge.h"

hash=$(sum "$SELF" "${PATCHES[@]}" "$HDR")
key="$version-$hash"
entry="$CACHE/qemu/$key"
bin="$entry/bin/qemu-system-x86_64"
tree="$CACHE/qemu/tree-$version-$(sum "$SELF")"
src="$tree/src"

exec 9>"$CACHE/qemu/.lock"
flock 9

if [ -f "$entry/.complete" ] && [ -x "$bin" ]; then
	log "cached: $entry"
	echo "$bin" >&3
	exit 0
fi

stage="$CACHE/qemu/.stage-$key"
logf="$CACHE/qemu/.build-$key.log"
# Drop leftovers: an incomplete entry, failed stagings, other trees.
rm -rf "$entry" "$CACHE"/qemu/.stage-* "$CACHE"/qemu/.build-*.log
for t in "$CACHE"/qemu/tree-* "$CACHE"/qemu/.work-*; do
	[ "$t" = "$tree" ] || rm -rf "$t"
done

on_exit() {
	local rc=$?
	rm -rf "$snap"
	if [ $rc -ne 0 ]; then
		echo "build-qemu: FAILED (exit $rc); last lines of $logf:" >&2
		tail -n 60 "$logf" >&2 2>/dev/null || true
	fi
}
trap on_exit EXIT

start=$SECONDS
if [ -f "$tree/.configured" ]; then
	log "building QEMU $version for vbridge in $tree (incremental, log: $logf)"
else
	log "building QEMU $version for vbridge in $tree (log: $logf)"
fi
{
	if [ ! -f "$tree/.configured" ]; then
		rm -rf "$tree"
		mkdir -p "$tree"
		echo "== unpack $dsc"
		dpkg-source --no-copy -x "$dsc" "$src"

		# The +ds tarball has no edk2 blobs; never try to unpack them.
		sed -i 's/^\( *unpack_edk2_blobs = \)bzip2\.found()/\1false/' \
			"$src/meson.build"

		apply_patches

		echo "== header $ORIG_HDR"
		cp_portable "$HDR" "$src/include/standard-headers/linux/vbridge.h"

		echo "== configure ${CONFIGURE_FLAGS[*]}"
		mkdir -p "$src/build"
		(cd "$src/build" && ../configure "${CONFIGURE_FLAGS[@]}")
		touch "$tree/.configured"
	else
		# The patches may have changed since this tree was set up:
		# take the old ones out and put the new ones in, so that only
		# the files they touch are rebuilt.
		if [ "$(sum "$tree"/applied/*.patch)" != "$(sum "${PATCHES[@]}")" ]; then
			for p in $(ls "$tree"/applied/*.patch | sort -r); do
				echo "== unpatch $(basename "$p")"
				patch -d "$src" -p1 -R --batch <"$p"
			done
			apply_patches
		fi
		# The header is replaced only if it changed.
		echo "== header $ORIG_HDR (incremental)"
		hdst="$src/include/standard-headers/linux/vbridge.h"
		cp_portable "$HDR" "$tree/vbridge.h.new"
		if cmp -s "$tree/vbridge.h.new" "$hdst"; then
			rm -f "$tree/vbridge.h.new"
		else
			mv "$tree/vbridge.h.new" "$hdst"
		fi
	fi

	# Only the emulator: not the tests and tools "all" would build.
	echo "== build"
	ninja -C "$src/build" -j"$(nproc)" qemu-system-x86_64 | progress

	echo "== install"
	mkdir -p "$stage$PREFIX/bin"
	cp "$src/build/qemu-system-x86_64" "$stage$PREFIX/bin/"

	echo "== check"
	"$stage$PREFIX/bin/qemu-system-x86_64" -M none -device help \
		>"$stage/devices"
	grep '"vhost-user-vbridge"' "$stage/devices"
	grep '"vhost-user-vbridge-pci"' "$stage/devices"
} >"$logf" 2>&1 </dev/null

mv "$logf" "$stage$PREFIX/build.log"
logf="$stage$PREFIX/build.log"
cat >"$stage$PREFIX/.complete" <<EOF
source=$dsc
version=$version
hash=$hash
tree=$tree
seconds=$((SECONDS - start))
EOF
mv -T "$stage$PREFIX" "$entry"
logf="$entry/build.log"
rm -rf "$stage"
if [ "${VBRIDGE_KEEP_TREE:-1}" = 0 ]; then
	rm -rf "$tree"
fi
log "built in $((SECONDS - start)) s: $entry"
echo "$bin" >&3
