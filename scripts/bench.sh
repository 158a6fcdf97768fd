#!/bin/bash
# Benchmarks, measured side by side in one guest boot: the round-trip
# latency of an empty request through vbridge.ko, display updates
# (bench/vbridge_display_bench.c) through vbridge and virtio-gpu, both
# 1920x1080, and one file workload (bench/vbridge_fs_bench.c) on
# vbridgefs, virtiofs (virtiofsd 7.2) and virtio-9p, each exporting its
# own fresh host directory.  Prints the raw lines, then a table with
# ratios against vbridgefs and one with ratios virtio-gpu / vbridge.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/build.sh"
# shellcheck source=/dev/null
. "$ROOT/build/env"
VIRTIOFSD=$("$ROOT/scripts/fetch-virtiofsd.sh")

WORK=$(mktemp -d /tmp/vbridge-bench.XXXXXX)
mkdir "$WORK/vb" "$WORK/vfs" "$WORK/9p" "$WORK/9pn"
VFS_PID=
cleanup() {
	[ -z "$VFS_PID" ] || kill "$VFS_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

"$VIRTIOFSD" --socket-path="$WORK/vfs.sock" -o source="$WORK/vfs" -o cache=auto \
	2> >(sed -u 's/^/[virtiofsd] /' >&2) &
VFS_PID=$!
for _ in $(seq 100); do [ -S "$WORK/vfs.sock" ] && break; sleep 0.05; done

export VM_EXTRA_QEMU_ARGS="-chardev socket,id=vfsc,path=$WORK/vfs.sock
 -device vhost-user-fs-pci,chardev=vfsc,tag=vfs
 -virtfs local,path=$WORK/9p,mount_tag=p9,security_model=none,id=p9
 -virtfs local,path=$WORK/9pn,mount_tag=p9n,security_model=none,id=p9n
 -device virtio-gpu-pci,xres=1920,yres=1080"
LOG=$ROOT/build/bench.log
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$INITRD" --job bench --timeout 1200 \
	--log "$LOG" -- --shared-dir "share=$WORK/vb" --display 1920x1080

echo
echo "== file workload, ms per phase (ratio = this / vbridgefs with the same caching)"
tr -d '\r' <"$LOG" | awk '
	/^fs=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		ms[f["fs"], f["phase"]] = f["ms"]
		if (!(f["phase"] in seen)) { seen[f["phase"]] = 1; phases[++np] = f["phase"] }
		if (!(f["fs"] in seenfs)) { seenfs[f["fs"]] = 1; fss[++nf] = f["fs"] }
	}
	END {
		printf "%-12s", "phase"
		for (j = 1; j <= nf; j++) printf " %16s", fss[j]
		printf "\n"
		for (i = 1; i <= np; i++) {
			p = phases[i]
			printf "%-12s", p
			for (j = 1; j <= nf; j++) {
				fs = fss[j]
				base = (fs ~ /none$/) ? "vbridgefs-none" : "vbridgefs-auto"
				r = (ms[base, p] > 0) ? sprintf(" (%.2fx)", ms[fs, p] / ms[base, p]) : ""
				printf " %16s", ms[fs, p] (fs ~ /^vbridgefs/ ? "" : r)
			}
			printf "\n"
		}
	}'

echo
echo "== display 1920x1080, per phase (ratio = virtio_gpu / vbridge)"
tr -d '\r' <"$LOG" | awk '
	/^display=/ {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		for (i = 3; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "ops" || kv[1] == "ms" || kv[1] == "min_us") continue
			row = f["phase"] " " kv[1]
			v[f["display"], row] = kv[2]
			if (!(row in seen)) { seen[row] = 1; rows[++nr] = row }
		}
	}
	END {
		printf "%-30s %12s %20s\n", "phase metric", "vbridge", "virtio_gpu"
		for (i = 1; i <= nr; i++) {
			r = rows[i]
			a = v["vbridge", r]; b = v["virtio_gpu", r]
			if (a == "") a = "-"
			if (b == "") b = "-"
			else if (a != "-" && a > 0) b = b sprintf(" (%.2fx)", b / a)
			printf "%-30s %12s %20s\n", r, a, b
		}
	}'
