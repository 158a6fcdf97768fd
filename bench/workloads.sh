# shellcheck shell=sh
# The benchmark's workload list, sourced by the guest job (busybox sh,
# image/guest/vb-bench) and by scripts/bench.sh for the host run, so
# that every configuration runs the same sequence with the same sizes.
#
# bench_config CONFIG DIR: run every workload on DIR, which holds what
# scripts/bench.sh put in each export: tree/ (a kernel headers tree),
# repo/ (a git repository of that tree with a few files changed), src.tar
# (a tarball of the tree) and meta (their counts).  Sizes and options:
#   BENCH_FILES  small files (4 KiB each) for create/stat/readdir/read4k/unlink
#   BENCH_MIB    MiB for the sequential reads and writes (DIR/big)
#   BENCH_READS  random page reads through mmap of DIR/big
#   BENCH_FIO_MIB, BENCH_FIO_SECS  fio's file and run time per job
#   BENCH_PORT   the guest's port to the host agent (empty on the host)
#   BENCH_DROP   -D in the guest: cold phases drop all of its caches
#   BENCH_WORKLOADS  comma list of the groups to run (files, find, git,
#                untar, seq, mmap, fio); empty: all of them
# Every result is a "BENCH ..." line (bench/vbridge_fs_bench.c), fio's
# JSON a "BENCH-FIO config=C workload=W json=..." line, a failure a
# "BENCH-FAIL ..." line; one failed workload does not stop the others.

#   BENCH_FIO_ONE  1: the four fio jobs in one fio run (quick mode: fio's
#                start-up dominates under TCG); their context switches
#                are then not told apart
FIO_JOBS="randread-qd1:randread:1 randread-qd16:randread:16 randwrite-qd1:randwrite:1 randwrite-qd16:randwrite:16"

bench_fio() {	# NAME [JOB:RW:DEPTH]...
	fio_out=${TMPDIR:-/tmp}/bench-fio.$$.json fio_name=$1
	shift
	fio_args=
	for j in "$@"; do
		IFS=: read -r n rw depth <<EOJ
$j
EOJ
		fio_args="$fio_args --name=$n --rw=$rw --iodepth=$depth --stonewall"
	done
	# shellcheck disable=SC2086 # the job options are words
	if $BENCH -w "$fio_name" -O "$fio_out" -x -- fio \
		--filename="$BENCH_D/fio.dat" --size="${BENCH_FIO_MIB}M" \
		--bs=4k --ioengine=io_uring --direct="$fio_direct" \
		--runtime="$BENCH_FIO_SECS" --time_based --end_fsync=1 \
		--output-format=json --percentile_list=50:99 $fio_args; then
		printf 'BENCH-FIO config=%s workload=%s json=' "$BENCH_C" "$fio_name"
		tr -d '\n' <"$fio_out"
		echo
	fi
	rm -f "$fio_out"
}

bench_want() {	# GROUP: whether BENCH_WORKLOADS asks for it
	case ",${BENCH_WORKLOADS:-$1}," in
	*",$1,"*) return 0 ;;
	esac
	return 1
}

bench_config() {
	BENCH_C=$1 BENCH_D=$2
	BENCH="vbridge_fs_bench -c $BENCH_C ${BENCH_PORT:+-p $BENCH_PORT} ${BENCH_DROP:-}"
	# shellcheck source=/dev/null
	. "$BENCH_D/meta" || { echo "BENCH-FAIL config=$BENCH_C workload=all error=no-meta"; return; }
	echo "# config $BENCH_C on $BENCH_D: $(date)"

	if bench_want files; then
		for w in create stat readdir read4k unlink; do
			$BENCH -w $w -n "$BENCH_FILES" "$BENCH_D/files"
		done
	fi
	! bench_want find || $BENCH -w find "$BENCH_D/tree"
	bench_want git && bench_git
	bench_want untar && bench_untar
	if bench_want seq; then
		for w in seq-write-cold seq-write-warm seq-read-cold seq-read-warm; do
			$BENCH -w $w -s "$BENCH_MIB" "$BENCH_D/big"
		done
	fi
	if bench_want mmap; then
		[ -f "$BENCH_D/big" ] ||
			$BENCH -w seq-write-cold -s "$BENCH_MIB" "$BENCH_D/big"
		$BENCH -w mmap -s "$BENCH_MIB" -r "$BENCH_READS" "$BENCH_D/big"
	fi
	rm -f "$BENCH_D/big"
	bench_want fio && bench_fio_all
	return 0
}

bench_git() {
	# git: an untimed status first refreshes the index (its stat data is
	# the host's), as any first look at a copied repository would.
	git_c="git -C $BENCH_D/repo -c safe.directory=* -c core.untrackedCache=false"
	# shellcheck disable=SC2086 # git_c is words
	$git_c status --porcelain >/dev/null 2>&1
	# shellcheck disable=SC2086
	$BENCH -w git-status -o "$GIT_FILES" -x -- $git_c status --porcelain
	# shellcheck disable=SC2086
	$BENCH -w git-diff -o "$GIT_FILES" -x -- $git_c diff
}

bench_untar() {
	mkdir -p "$BENCH_D/untar"
	$BENCH -w untar -o "$TAR_ENTRIES" -b "$TAR_BYTES" -x -- \
		tar -xf "$BENCH_D/src.tar" -C "$BENCH_D/untar"
}

bench_fio_all() {
	$BENCH -w layout -s "$BENCH_FIO_MIB" "$BENCH_D/fio.dat"
	fio_direct=$($BENCH -w odirect "$BENCH_D/fio.dat")
	echo "BENCH-INFO config=$BENCH_C fio_direct=$fio_direct"
	if [ "${BENCH_FIO_ONE:-0}" = 1 ]; then
		# shellcheck disable=SC2086 # one word per job
		bench_fio fio-all $FIO_JOBS
	else
		for j in $FIO_JOBS; do
			bench_fio "${j%%:*}" "$j"
		done
	fi
	rm -f "$BENCH_D/fio.dat"
}
