#!/bin/bash
# make bench: every shared-folder configuration side by side, in one guest
# boot, on the same host directory contents, plus the same workloads on
# the host itself.  See README.md ("Benchmarks") for what is measured.
#
# usage: bench.sh [--quick] [--no-build] [--out DIR] [--publish DIR]
#   --quick     tiny sizes (make test): checks that every configuration
#               produced every number; results in build/results/quick
#   --no-build  skip scripts/build.sh (already run, e.g. by make test)
#   --out DIR   results directory (default build/results)
#   --publish DIR  also copy the Markdown table and the charts there
#               (docs/bench for the README)
# Writes DIR/bench.json (every raw figure, the command, the environment),
# DIR/bench.md (tables with ratios and targets), DIR/*.png (gnuplot) and
# the raw logs (guest.log, host.log, marks.jsonl).  Exits non-zero when
# the guest run failed or, in quick mode, when a number is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMDLINE="scripts/bench.sh $*"
for v in BENCH_FILES BENCH_MIB BENCH_READS BENCH_FIO_MIB BENCH_FIO_SECS BENCH_TREE \
	BENCH_CONFIGS BENCH_WORKLOADS BENCH_VBRIDGED_ARGS; do
	[ -z "${!v:-}" ] || CMDLINE="$v=${!v} $CMDLINE"
done
QUICK=0 BUILD=1 OUT='' PUBLISH=''
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1; shift ;;
	--no-build) BUILD=0; shift ;;
	--out) OUT=$2; shift 2 ;;
	--publish) PUBLISH=$2; shift 2 ;;
	*) echo "bench: unknown argument $1" >&2; exit 2 ;;
	esac
done

# Sizes (README: "Benchmarks" says how they were chosen).  Full: meant to
# fit in 30 minutes on a quiet 2-core TCG machine; each can be changed
# with BENCH_FILES, BENCH_MIB, BENCH_READS, BENCH_FIO_MIB, BENCH_FIO_SECS
# and BENCH_TREE (a directory of the kernel headers' common tree).
# Quick: a smoke run for make test.  BENCH_CONFIGS (a comma list of the
# configurations below) and BENCH_WORKLOADS (of the groups files, find,
# git, untar, seq, mmap, fio; see bench/workloads.sh) narrow a run down,
# e.g. to compare one change on a few configurations in minutes;
# BENCH_VBRIDGED_ARGS adds vbridged options (e.g. --queue-threads=1).
if [ "$QUICK" = 1 ]; then
	FILES=100 MIB=4 READS=256 FIO_MIB=4 FIO_SECS=200ms TREE_SUB=include/drm
	FIO_ONE=1
	OUT=${OUT:-$ROOT/build/results/quick} TIMEOUT=900
else
	FILES=${BENCH_FILES:-4000} MIB=${BENCH_MIB:-128} READS=${BENCH_READS:-4096}
	FIO_MIB=${BENCH_FIO_MIB:-32} FIO_SECS=${BENCH_FIO_SECS:-2}
	TREE_SUB=${BENCH_TREE:-include/uapi} FIO_ONE=0
	OUT=${OUT:-$ROOT/build/results} TIMEOUT=3600
fi
ALL_CONFIGS=vb-none,vb-auto,vb-auto-wb,vb-always,vb-always-wb,ubridge,virtiofs-none,virtiofs-auto,9p-none,9p-loose,tmpfs
CONFIGS=${BENCH_CONFIGS:-$ALL_CONFIGS}
WORKLOADS=${BENCH_WORKLOADS:-files,find,git,untar,seq,mmap,fio}
for c in ${CONFIGS//,/ }; do
	[[ ,$ALL_CONFIGS, == *,$c,* ]] ||
		{ echo "bench: unknown configuration $c in BENCH_CONFIGS" >&2; exit 2; }
done
for w in ${WORKLOADS//,/ }; do
	[[ ,files,find,git,untar,seq,mmap,fio, == *,$w,* ]] ||
		{ echo "bench: unknown workload group $w in BENCH_WORKLOADS" >&2; exit 2; }
done

if [ "$BUILD" = 1 ]; then
	"$ROOT/scripts/build.sh"
fi
# shellcheck source=/dev/null
. "$ROOT/build/env"
VIRTIOFSD=$("$ROOT/scripts/fetch-virtiofsd.sh")
KROOT='' KVER=''
eval "$("$ROOT/image/fetch-kernel.sh")"
# The guest kernel's own headers (image/fetch-kernel.sh unpacked them).
HEADERS_COMMON=$(find "${VBRIDGE_CACHE:-/var/cache/vbridge}/headers/$KVER/root/usr/src" \
	-maxdepth 1 -name 'linux-headers-*-common' | sort | tail -n 1)
[ -d "$HEADERS_COMMON/$TREE_SUB" ] ||
	{ echo "bench: no headers tree $HEADERS_COMMON/$TREE_SUB" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vbridge-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Files only: the quick mode's results live below the full run's.
mkdir -p "$OUT"
find "$OUT" -maxdepth 1 -type f -delete
START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

echo "==> bench: guest image (fio, git, GNU tar and ubridge with their libraries)" >&2
mkdir "$WORK/bin"
cp -a "$ROOT/build/guest-bin/." "$WORK/bin/"
cp "$ROOT/bench/workloads.sh" "$WORK/bin/bench-workloads.sh"
cp "$ROOT/image/guest/vb-bench" "$WORK/bin/"
gcc -static -O2 -Wall -Wextra -Werror "$ROOT/bench/vbridge_fs_bench.c" \
	-o "$WORK/bin/vbridge_fs_bench"
"$ROOT/image/build-initramfs.sh" --kroot "$KROOT" --kver "$KVER" \
	--module "$ROOT/vbridge.ko" --module "$ROOT/vbridge_drm.ko" --bin "$WORK/bin" \
	--extra-module 9p --extra-module 9pnet_virtio --extra-module virtio-gpu \
	--host-bin "$ROOT/build/ubridge" --host-bin /usr/bin/fio \
	--host-bin /usr/bin/git --host-bin /usr/bin/tar \
	--out "$WORK/initramfs-bench.cpio.gz"

echo "==> bench: contents (headers tree $TREE_SUB, a git repository of it, its tarball)" >&2
T=$WORK/template
mkdir -p "$T"
cp -a "$HEADERS_COMMON/$TREE_SUB" "$T/tree"
cp -a "$T/tree" "$T/repo"
git -C "$T/repo" init -q
git -C "$T/repo" add -A
git -C "$T/repo" -c user.name=bench -c user.email=bench@localhost \
	commit -q -m "headers $TREE_SUB"
# A few changed files, so that git diff has work to show.
git -C "$T/repo" ls-files | awk 'NR % 50 == 1' | while read -r f; do
	echo "/* changed by the benchmark */" >>"$T/repo/$f"
done
tar -cf "$T/src.tar" -C "$T" tree
cat >"$T/meta" <<EOM
TREE_ENTRIES=$(find "$T/tree" -mindepth 1 | wc -l)
GIT_FILES=$(git -C "$T/repo" ls-files | wc -l)
TAR_ENTRIES=$(tar -tf "$T/src.tar" | wc -l)
TAR_BYTES=$(stat -c %s "$T/src.tar")
EOM
cat "$T/meta" >&2
EXPORTS=(vbnone vbauto vbautowb vbalways vbalwayswb ub vfsnone vfsauto p9none p9loose host)
for e in "${EXPORTS[@]}"; do
	cp -a "$T" "$WORK/$e"
done

echo "==> bench: the host itself ($WORK/host)" >&2
gcc -O2 -Wall -Wextra -Werror "$ROOT/bench/vbridge_fs_bench.c" -o "$WORK/vbridge_fs_bench"
(
	cd "$WORK"
	export PATH=$WORK:$PATH BENCH_FILES=$FILES BENCH_MIB=$MIB BENCH_READS=$READS
	export BENCH_FIO_MIB=$FIO_MIB BENCH_FIO_SECS=$FIO_SECS BENCH_FIO_ONE=$FIO_ONE
	export BENCH_WORKLOADS=$WORKLOADS
	export BENCH_PORT='' BENCH_DROP=''
	# shellcheck source=/dev/null
	. "$ROOT/bench/workloads.sh"
	bench_config host "$WORK/host"
) >"$OUT/host.log" 2>&1 || true
grep -c '^BENCH ' "$OUT/host.log" | sed 's/^/# host results: /' >&2

echo "==> bench: one guest boot, $CONFIGS" >&2
for m in none auto; do
	"$VIRTIOFSD" --socket-path="$WORK/vfs$m.sock" -o source="$WORK/vfs$m" \
		-o cache=$m 2> >(sed -u "s/^/[virtiofsd-$m] /" >"$OUT/virtiofsd-$m.log") &
	PIDS+=("$!")
done
VFS_none=${PIDS[0]} VFS_auto=${PIDS[1]}
python3 "$ROOT/scripts/bench-agent.py" "$WORK/agent.sock" "$OUT/marks.jsonl" \
	"vbridged=@$WORK/vbridged.pid" "virtiofsd-none=$VFS_none" \
	"virtiofsd-auto=$VFS_auto" &
PIDS+=("$!")
for _ in $(seq 100); do
	[ -S "$WORK/vfsnone.sock" ] && [ -S "$WORK/vfsauto.sock" ] &&
		[ -S "$WORK/agent.sock" ] && break
	sleep 0.05
done

export VM_EXTRA_QEMU_ARGS="
 -chardev socket,id=vfsn,path=$WORK/vfsnone.sock
 -device vhost-user-fs-pci,chardev=vfsn,tag=vfsnone
 -chardev socket,id=vfsa,path=$WORK/vfsauto.sock
 -device vhost-user-fs-pci,chardev=vfsa,tag=vfsauto
 -virtfs local,path=$WORK/p9none,mount_tag=p9none,security_model=none,id=p9n
 -virtfs local,path=$WORK/p9loose,mount_tag=p9loose,security_model=none,id=p9l
 -device virtio-gpu-pci,xres=1920,yres=1080
 -device virtio-serial-pci
 -chardev socket,id=ubr,path=$WORK/serial.sock
 -device virtserialport,chardev=ubr,name=org.vbridge.0
 -chardev socket,id=bag,path=$WORK/agent.sock
 -device virtserialport,chardev=bag,name=org.vbridge.bench"
export VM_EXTRA_APPEND="bench_files=$FILES bench_mib=$MIB bench_reads=$READS bench_fio_mib=$FIO_MIB bench_fio_secs=$FIO_SECS bench_fio_one=$FIO_ONE bench_quick=$QUICK bench_configs=$CONFIGS bench_workloads=$WORKLOADS"
export VBRIDGED_PIDFILE=$WORK/vbridged.pid
SMP=2 MEM=1536
vm_status=0
# shellcheck disable=SC2086 # BENCH_VBRIDGED_ARGS: options, split on purpose
"$ROOT/scripts/vm-run.sh" --qemu "$QEMU" --vbridged "$VBRIDGED" \
	--kernel "$KIMAGE" --initrd "$WORK/initramfs-bench.cpio.gz" \
	--job bench --timeout "$TIMEOUT" --smp $SMP --mem $MEM \
	--log "$OUT/guest.log" -- \
	--shared-dir "vbnone=$WORK/vbnone" --shared-dir "vbauto=$WORK/vbauto" \
	--shared-dir "vbautowb=$WORK/vbautowb" --shared-dir "vbalways=$WORK/vbalways" \
	--shared-dir "vbalwayswb=$WORK/vbalwayswb" --shared-dir "ub=$WORK/ub" \
	--serial-socket "$WORK/serial.sock" --display 1920x1080 \
	${BENCH_VBRIDGED_ARGS:-} >"$OUT/vm-run.log" 2>&1 || vm_status=$?
[ "$vm_status" = 0 ] || { echo "bench: the guest run failed ($vm_status), see $OUT/guest.log and $OUT/vm-run.log" >&2; tail -n 20 "$OUT/vm-run.log" >&2; }

ELAPSED=$(($(date +%s) - START))
python3 - "$OUT/env.json" <<EOF
import json, sys
json.dump({
    "command": "$CMDLINE",
    "make_target": "make bench",
    "mode": "quick" if $QUICK else "full",
    "date_utc": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
    "git_commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)",
    "cpu_model": "$(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -n 1)",
    "host_cpus": $(nproc),
    "host_kernel": "$(uname -r)",
    "qemu": "$("$QEMU" --version | head -n 1)",
    "accel": "${VBRIDGE_ACCEL:-tcg}",
    "vcpus": $SMP, "guest_mem_mb": $MEM,
    "virtiofsd": "$VIRTIOFSD",
    "fio": "$(fio --version)", "git": "$(git --version)",
    "load_avg_start": "$LOAD_START",
    "load_avg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
    "wall_seconds": $ELAPSED,
    "vm_status": $vm_status,
    "sizes": {"files": $FILES, "seq_mib": $MIB, "mmap_reads": $READS,
              "fio_mib": $FIO_MIB, "fio_runtime": "$FIO_SECS",
              "tree": "$HEADERS_COMMON/$TREE_SUB"},
    "contents": {k: int(v) for k, v in (l.strip().split("=") for l in open("$T/meta"))},
    "configs": "$CONFIGS".split(","),
    "workloads": "$WORKLOADS".split(","),
}, open(sys.argv[1], "w"), indent=1)
EOF
report_status=0
check=()
[ "$QUICK" = 0 ] || check=(--check)
python3 "$ROOT/scripts/bench-report.py" "${check[@]}" "$OUT" || report_status=$?
if [ -n "$PUBLISH" ]; then
	mkdir -p "$PUBLISH"
	cp "$OUT/bench.md" "$OUT"/*.png "$PUBLISH/"
fi
echo "bench: results in $OUT (bench.json, bench.md, *.png), ${ELAPSED}s" >&2
[ "$vm_status" = 0 ] && [ "$report_status" = 0 ]
