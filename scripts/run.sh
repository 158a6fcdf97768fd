#!/bin/bash
# The main job: build everything, then boot a microVM whose root is a
# host directory served by vbridged (tools/vbridge run), with a second
# host directory shared read-write, and show both working.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/build.sh"

SHARE=${VBRIDGE_SHARE:-$ROOT/build/demo-share}
mkdir -p "$SHARE"
[ -e "$SHARE/hello.txt" ] || echo "hello from the host" >"$SHARE/hello.txt"
rm -f "$SHARE/from-guest.txt"

# The guest: the minimal kernel on QEMU's microvm, root over vbridge
# (the busybox tree), the display on, the share at /run/vbridge/demo.
"$ROOT/tools/vbridge" run --share "demo=$SHARE" --display 1024x768 --no-cwd -- \
	sh -c '
	echo "--- in the guest: $(uname -srm)"
	echo "--- vbridgefs mounts (/ is the host directory $0):"
	grep vbridgefs /proc/mounts
	echo "--- the display:"
	cat /sys/class/drm/card0-*/modes 2>/dev/null | head -n 3
	echo "--- /run/vbridge/demo/hello.txt:"
	cat /run/vbridge/demo/hello.txt
	echo "written by the guest running $(uname -r) at uptime $(cut -d" " -f1 /proc/uptime) s" \
		>/run/vbridge/demo/from-guest.txt
	' "$("$ROOT/image/minimal/rootfs.sh" busybox)"
echo "--- on the host, $SHARE after the guest ran:"
ls -l "$SHARE"
cat "$SHARE/from-guest.txt"
