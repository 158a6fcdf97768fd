#!/bin/bash
# The main job: build everything, then boot a guest with a host directory
# attached through vbridge and show it working.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/build.sh"
# shellcheck source=/dev/null
. "$ROOT/build/env"

SHARE=${VBRIDGE_SHARE:-$ROOT/build/demo-share}
mkdir -p "$SHARE/.agent"
[ -e "$SHARE/hello.txt" ] || echo "hello from the host" >"$SHARE/hello.txt"
rm -f "$SHARE/.agent/"*

# The display: a VNC server on 127.0.0.1:5901 (watch the guest with
# "vncviewer localhost:1" while it runs) and the control socket through
# which the host agent takes a screenshot when the guest asks.
CTLDIR=$(mktemp -d /tmp/vbridge-ctl.XXXXXX)
export VBRIDGE_CONTROL=$CTLDIR/control.sock
"$ROOT/scripts/host-agent.sh" "$SHARE" &
AGENT_PID=$!
trap 'kill $AGENT_PID 2>/dev/null; rm -rf "$CTLDIR"' EXIT

"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job demo --timeout 300 \
	-- --shared-dir "share=$SHARE" --display 1024x768 --vnc :1 \
	--control-socket "$VBRIDGE_CONTROL"
echo "--- on the host, $SHARE after the guest ran:"
ls -l "$SHARE"
cat "$SHARE/from-guest.txt"
if [ -f "$SHARE/.agent/demo.png" ]; then
	cp "$SHARE/.agent/demo.png" "$ROOT/build/screenshot.png"
	echo "--- the guest's screen: $ROOT/build/screenshot.png"
fi
