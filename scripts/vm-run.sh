#!/bin/bash
# Boot the test guest with a vbridge device served by vbridged, run one
# guest job and return its status.  Everything started here is killed
# on every exit path.
#
# usage: vm-run.sh --qemu BIN --vbridged BIN --kernel IMG --initrd CPIO
#                  --job NAME [--timeout SEC] [--accel tcg|kvm] [--smp N]
#                  [--mem MB] [--queues N] [--log FILE] [--no-vbridge]
#                  [-- vbridged arguments...]
# Extra QEMU arguments (baselines) come from $VM_EXTRA_QEMU_ARGS, extra
# kernel command line words (environment for the guest jobs) from
# $VM_EXTRA_APPEND, extra properties of the vbridge device (such as
# iommu_platform=on) from $VM_DEVICE_ARGS.  With $VBRIDGED_PIDFILE set,
# vbridged's pid is written there (the host agent's stall command needs
# it).  With $VM_BACKEND_KILLED=1, vbridged dying of SIGKILL is
# expected.  With $VM_BACKEND_RESTART=1 (and $VBRIDGED_PIDFILE), QEMU reconnects to the
# socket and vbridged is restarted when the host agent asks.
set -euo pipefail

QEMU= VBRIDGED= KERNEL= INITRD= JOB= LOG=
TIMEOUT=300 ACCEL=${VBRIDGE_ACCEL:-tcg} SMP=2 MEM=512 QUEUES=2 WITH_VBRIDGE=1
while [ $# -gt 0 ]; do
	case $1 in
	--qemu) QEMU=$2; shift 2 ;;
	--vbridged) VBRIDGED=$2; shift 2 ;;
	--kernel) KERNEL=$2; shift 2 ;;
	--initrd) INITRD=$2; shift 2 ;;
	--job) JOB=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--accel) ACCEL=$2; shift 2 ;;
	--smp) SMP=$2; shift 2 ;;
	--mem) MEM=$2; shift 2 ;;
	--queues) QUEUES=$2; shift 2 ;;
	--log) LOG=$2; shift 2 ;;
	--no-vbridge) WITH_VBRIDGE=0; shift ;;
	--) shift; break ;;
	*) echo "vm-run: unknown argument $1" >&2; exit 2 ;;
	esac
done
for v in QEMU KERNEL INITRD JOB; do
	[ -n "${!v}" ] || { echo "vm-run: --${v,,} is required" >&2; exit 2; }
done
[ "$WITH_VBRIDGE" = 0 ] || [ -n "$VBRIDGED" ] ||
	{ echo "vm-run: --vbridged is required" >&2; exit 2; }

case $ACCEL in
kvm) CPU=host ;;
tcg) CPU=max ;;
*) echo "vm-run: --accel must be tcg or kvm" >&2; exit 2 ;;
esac

RUNDIR=$(mktemp -d /tmp/vbridge-vm.XXXXXX)
LOG=${LOG:-$RUNDIR/console.log}
: >"$LOG"
QEMU_PID= BACKEND_PID= TAIL_PID=

cleanup() {
	local pid
	for pid in $QEMU_PID $BACKEND_PID $TAIL_PID; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $QEMU_PID $BACKEND_PID $TAIL_PID; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qemu_args=(
	-accel "$ACCEL" -cpu "$CPU" -M q35 -smp "$SMP" -m "${MEM}M"
	-object "memory-backend-memfd,id=mem,size=${MEM}M,share=on"
	-numa node,memdev=mem
	-L /usr/share/seabios -L /usr/share/qemu
	-nic none -display none -monitor none -no-reboot
	-serial "file:$LOG"
	-kernel "$KERNEL" -initrd "$INITRD"
	-append "console=ttyS0 no_timer_check loglevel=4 oops=panic panic=-1 panic_on_warn=1 vb_job=$JOB ${VM_EXTRA_APPEND:-}"
)

# launch_backend ARGS...: vbridged on $SOCK, its pid in BACKEND_PID.
launch_backend() {
	rm -f "$SOCK"
	"$VBRIDGED" --socket-path "$SOCK" --num-queues "$QUEUES" "$@" \
		2> >(sed -u 's/^/[vbridged] /' >&2) &
	BACKEND_PID=$!
	# For a host agent that stalls the backend (scripts/host-agent.sh).
	[ -z "${VBRIDGED_PIDFILE:-}" ] || echo "$BACKEND_PID" >"$VBRIDGED_PIDFILE"
}

# start_backend ARGS...: launch_backend, then wait until it listens.
start_backend() {
	launch_backend "$@"
	# Up to 20 s: a sandboxed vbridged on a loaded host is slow to start.
	for _ in $(seq 400); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$BACKEND_PID" 2>/dev/null ||
			{ echo "vm-run: vbridged exited before listening" >&2; return 1; }
		sleep 0.05
	done
	echo "vm-run: vbridged did not create $SOCK" >&2
	return 1
}

# With $VM_BACKEND_RESTART=1, QEMU reconnects to the socket and a dead
# vbridged is started again, with the same arguments, once the host agent
# asks (the file $VBRIDGED_PIDFILE.restart: host-agent.sh kill DELAY RESTART).
RESTART=${VM_BACKEND_RESTART:-0}
RESTARTS=0
restart_backend() {
	local old=$BACKEND_PID st=0
	rm -f "$VBRIDGED_PIDFILE.restart"
	# The agent asks only once it killed vbridged (kill -0 would see
	# the zombie): this reaps it.
	wait "$old" || st=$?
	# Killed on purpose (137) or exited cleanly: anything else fails.
	[ "$st" = 137 ] || [ "$st" = 0 ] ||
		{ echo "vm-run: vbridged exited with status $st before the restart" >&2; return 1; }
	# Not start_backend: a reconnecting QEMU may take the socket before
	# we see it, and vbridged removes it once it has its frontend.
	launch_backend "${BACKEND_ARGS[@]}"
	RESTARTS=$((RESTARTS + 1))
	echo "vm-run: vbridged restarted ($RESTARTS)" >&2
}

if [ "$WITH_VBRIDGE" = 1 ]; then
	SOCK=$RUNDIR/vbridged.sock
	BACKEND_ARGS=("$@")
	start_backend "$@" || exit 1
	reconnect=
	[ "$RESTART" != 1 ] || reconnect=,reconnect-ms=200
	qemu_args+=(
		-chardev "socket,id=vbc,path=$SOCK$reconnect"
		-device "vhost-user-vbridge-pci,chardev=vbc,num-request-queues=$QUEUES${VM_DEVICE_ARGS:+,$VM_DEVICE_ARGS}"
	)
fi
# shellcheck disable=SC2206 # word splitting of the baseline arguments is wanted
qemu_args+=(${VM_EXTRA_QEMU_ARGS:-})

tail -n +1 -f "$LOG" &
TAIL_PID=$!

start=$(date +%s)
"$QEMU" "${qemu_args[@]}" </dev/null &
QEMU_PID=$!
qemu_status=0
restart_status=0
while kill -0 "$QEMU_PID" 2>/dev/null; do
	if [ $(($(date +%s) - start)) -ge "$TIMEOUT" ]; then
		echo "vm-run: timeout after ${TIMEOUT}s, killing QEMU" >&2
		kill "$QEMU_PID"
		break
	fi
	if [ "$RESTART" = 1 ] && [ -e "$VBRIDGED_PIDFILE.restart" ]; then
		restart_backend || restart_status=1
	fi
	sleep 0.2
done
wait "$QEMU_PID" || qemu_status=$?
QEMU_PID=
sleep 0.3
kill "$TAIL_PID" 2>/dev/null || true
wait "$TAIL_PID" 2>/dev/null || true
TAIL_PID=

status=$restart_status
if grep -qE 'Kernel panic|BUG:|Oops|general protection fault|WARNING: CPU' "$LOG"; then
	echo "vm-run: the guest kernel crashed or warned" >&2
	status=1
fi
exit_line=$(grep -a 'VBRIDGE-EXIT: ' "$LOG" | tail -n 1 | tr -d '\r' || true)
if [ -z "$exit_line" ]; then
	echo "vm-run: the guest did not finish (QEMU status $qemu_status)" >&2
	status=1
elif [ "${exit_line##*: }" != 0 ]; then
	status=1
fi

if [ -n "$BACKEND_PID" ]; then
	# vbridged exits when QEMU closes the connection.
	for _ in $(seq 50); do
		kill -0 "$BACKEND_PID" 2>/dev/null || break
		sleep 0.1
	done
	backend_status=0
	if kill -0 "$BACKEND_PID" 2>/dev/null; then
		echo "vm-run: vbridged still running after QEMU exited" >&2
		backend_status=1
	else
		wait "$BACKEND_PID" || backend_status=$?
	fi
	BACKEND_PID=
	# A test that kills vbridged on purpose says so.
	if [ "$backend_status" = 137 ] && [ "${VM_BACKEND_KILLED:-0}" = 1 ]; then
		backend_status=0
	fi
	if [ "$backend_status" != 0 ]; then
		echo "vm-run: vbridged exited with status $backend_status" >&2
		status=1
	fi
fi
exit $status
