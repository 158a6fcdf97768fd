#!/bin/bash
# Drop the vbridge driver into a kernel source tree, so that it builds
# in tree through CONFIG_VBRIDGE (driver/Kconfig).
#
# usage: intree.sh KERNEL_TREE [--link]
#   Places Kbuild, driver/Kconfig and driver/ under drivers/gpu/drm/vbridge
#   and the protocol header at include/uapi/linux/vbridge.h, then adds the
#   Kconfig "source" line and the obj line to drivers/gpu/drm.  Copies by
#   default, preserving the times of unchanged files so that a rebuild is
#   incremental; --link makes symbolic links into this checkout instead.
#   Running it again updates the tree.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TREE=${1:?usage: intree.sh KERNEL_TREE [--link]}
MODE=${2:-copy}
# A built-in driver's initcall runs in link order: under drivers/virtio
# a built-in vbridge_drm would register its auxiliary driver, and probe,
# before drm_core_init().  Beside drivers/gpu/drm/virtio it runs after.
PARENT=${VBRIDGE_INTREE_PARENT:-drivers/gpu/drm}
[ -f "$TREE/$PARENT/Kconfig" ] ||
	{ echo "intree: $TREE is not a kernel source tree" >&2; exit 1; }

DST=$TREE/$PARENT/vbridge
mkdir -p "$DST"
put() {
	if [ "$MODE" = --link ]; then
		ln -sfn "$1" "$2"
	elif ! cmp -s "$1" "$2"; then
		rm -f "$2"
		cp "$1" "$2"
	fi
}
put "$ROOT/Kbuild" "$DST/Kbuild"
put "$ROOT/driver/Kconfig" "$DST/Kconfig"
put "$ROOT/include/uapi/linux/vbridge.h" "$TREE/include/uapi/linux/vbridge.h"
if [ "$MODE" = --link ]; then
	rm -rf "$DST/driver"
	ln -sfn "$ROOT/driver" "$DST/driver"
else
	[ ! -L "$DST/driver" ] || rm -f "$DST/driver"
	for d in driver driver/drm; do
		mkdir -p "$DST/$d"
		for f in "$ROOT/$d"/*.[ch]; do
			put "$f" "$DST/$d/${f##*/}"
		done
		# Files the checkout no longer has.
		for f in "$DST/$d"/*.[ch]; do
			[ -e "$ROOT/$d/${f##*/}" ] || rm -f "$f"
		done
	done
fi

grep -q "$PARENT/vbridge/Kconfig" "$TREE/$PARENT/Kconfig" ||
	printf '\nsource "%s/vbridge/Kconfig"\n' "$PARENT" >>"$TREE/$PARENT/Kconfig"
grep -q '^obj-\$(CONFIG_VBRIDGE)' "$TREE/$PARENT/Makefile" ||
	echo 'obj-$(CONFIG_VBRIDGE) += vbridge/' >>"$TREE/$PARENT/Makefile"
echo "intree: vbridge is in $DST (CONFIG_VBRIDGE, CONFIG_VBRIDGE_DRM)" >&2
