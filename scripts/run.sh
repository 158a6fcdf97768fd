#!/bin/bash
# The main job: build everything, then boot a guest with a host directory
# attached through vbridge and show it working.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/build.sh"
# shellcheck source=/dev/null
. "$ROOT/build/env"

SHARE=${VBRIDGE_SHARE:-$ROOT/build/demo-share}
mkdir -p "$SHARE"
[ -e "$SHARE/hello.txt" ] || echo "hello from the host" >"$SHARE/hello.txt"

"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job demo --timeout 300 \
	-- --shared-dir "share=$SHARE"
echo "--- on the host, $SHARE after the guest ran:"
ls -l "$SHARE"
cat "$SHARE/from-guest.txt"
