#!/bin/bash
# Benchmarks: boots the guest and runs its bench job, which prints the
# measured numbers and the command that produced each of them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/build.sh"
# shellcheck source=/dev/null
. "$ROOT/build/env"

SHARE=$(mktemp -d /tmp/vbridge-bench.XXXXXX)
trap 'rm -rf "$SHARE"' EXIT
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job bench --timeout 600 \
	-- --shared-dir "share=$SHARE"
