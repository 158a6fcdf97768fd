#!/bin/bash
# Host agent for the vbridgefs tests: acts on the shared directory from
# the host while the guest runs, so that the guest can check coherence
# and host locks.  The guest drops request files DIR/.agent/cmd-ID (written
# elsewhere and renamed, so they are complete); the agent runs each one
# and answers with DIR/.agent/done-ID.
#
# usage: host-agent.sh DIR        (runs until killed)
#
# Commands (paths are relative to DIR and may not leave it):
#   write PATH TEXT   overwrite PATH with TEXT
#   append PATH TEXT  append TEXT to PATH
#   appendn PATH N TEXT  append the line TEXT N times, one O_APPEND
#                     write each (for races with the guest's appends)
#   truncate PATH SIZE   set PATH's size to SIZE bytes
#   remove PATH       remove PATH (not a directory)
#   lock PATH         hold a POSIX write lock on PATH (tools/host-locker.c)
#                     until PATH.unlock appears; done once it is held
#   swap NAME TARGET  for about 3 s, swap directory NAME (one component,
#                     not a link) for a symlink to TARGET and back, over
#                     and over (the escape suite's lookup races); done
#                     at once.  TARGET is only ever a link's text.
#   chase PATH N      coherence latency: N times, write a new 8-digit
#                     number into PATH and wait for the guest to write it
#                     back into PATH.ack (it polls PATH through its
#                     cache); the done file holds "ok N P50 P90 P99 MAX",
#                     the round trips in ms (host clock), or "error"
#   flood PATH NAME   with vbridged stopped, make 12000 files in a new
#                     directory (more change notifications than the
#                     host's queue holds), then append "FLOOD" to PATH
#                     and create NAME, so that only an overflow event
#                     can tell the guest; go on, remove the directory
#                     (needs $VBRIDGED_PIDFILE)
#   sha256 PATH       the host's view of the regular file PATH: the done
#                     file holds "ok HEX SIZE" (sha256sum, size in bytes)
#                     or "error"
# Display commands, through vbridged's control socket $VBRIDGE_CONTROL
# (host-side/build/vbridgectl); the done file holds the answer, "ok ..."
# or "error":
#   dump SCANOUT NAME     what SCANOUT shows, as raw XRGB8888 rows in
#                         .agent/NAME.rgb; answers "ok WIDTH HEIGHT"
#   resize SCANOUT W H    change SCANOUT's preferred mode
#   screenshot SCANOUT NAME  what SCANOUT shows, as .agent/NAME.png
# Backend stalls, for the destructive tests: vbridged's pid is read from
# the file $VBRIDGED_PIDFILE (written by vm-run.sh):
#   stall DELAY_MS DURATION_MS  done at once; DELAY_MS later SIGSTOP
#                         vbridged, DURATION_MS after that SIGCONT it
#                         (the guest cannot ask while vbridged is stopped)
#   kill DELAY_MS [RESTART_MS [OLD NEW]...]  done at once; DELAY_MS
#                         later SIGKILL vbridged; with RESTART_MS, that
#                         much later ask vm-run.sh to start it again on
#                         the same socket (the file
#                         $VBRIDGED_PIDFILE.restart; vm-run.sh with
#                         VM_BACKEND_RESTART=1).  The guest cannot ask for
#                         the restart itself: its export is dead then.
#                         Each OLD is renamed NEW while vbridged is down;
#                         a pair ":lock PATH" instead takes a host POSIX
#                         lock on PATH then (tools/host-locker.c), held
#                         until PATH.unlock appears.
# and through vbridged's VNC server at $VBRIDGE_VNC (HOST:PORT), with
# host-side/build/vnc-capture:
#   vnc NAME              what a VNC client sees, as raw XRGB8888 rows in
#                         .agent/NAME.rgb; answers "ok WIDTH HEIGHT"
set -euo pipefail

DIR=${1:?usage: host-agent.sh DIR}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
AGENT=$DIR/.agent
mkdir -p "$AGENT"

LOCKER=$ROOT/build/host-locker
if [ ! -x "$LOCKER" ] || [ "$LOCKER" -ot "$ROOT/tools/host-locker.c" ]; then
	mkdir -p "$ROOT/build"
	gcc -O2 -Wall -o "$LOCKER" "$ROOT/tools/host-locker.c"
fi

PIDS=()
# Never leave vbridged stopped.
trap 'kill "${PIDS[@]}" 2>/dev/null || true; [ -z "${STALL_PID:-}" ] ||
	signal_backend CONT "$STALL_PID"' EXIT
STALL_PID=

# A relative path inside DIR: no absolute paths, no "..".
safe_path() {
	case /$1/ in
	*/../*|//*) return 1 ;;
	esac
	[ -n "$1" ]
}

# vbridgectl COMMAND...: the answer for the done file.
ctl() {
	local out
	if [ -n "${VBRIDGE_CONTROL:-}" ] &&
	   out=$("$ROOT/host-side/build/vbridgectl" --socket "$VBRIDGE_CONTROL" "$@"); then
		echo "ok${out:+ $out}"
	else
		echo "error"
	fi
}

# vnc-capture NAME: the answer for the done file.
vnc() {
	local out
	if [ -n "${VBRIDGE_VNC:-}" ] &&
	   out=$("$ROOT/host-side/build/vnc-capture" "$VBRIDGE_VNC" "$AGENT/$1.rgb"); then
		echo "ok $out"
	else
		echo "error"
	fi
}

# signal_backend SIG PID: vbridged is PID and, sandboxed in a PID
# namespace, the child that serves (PID only waits for it).
signal_backend() {
	# shellcheck disable=SC2046 # one word per pid
	kill -"$1" "$2" $(pgrep -P "$2") 2>/dev/null || true
}

# stall PID DELAY_MS DURATION_MS
stall() {
	sleep "$(awk "BEGIN { print $2 / 1000 }")"
	signal_backend STOP "$1"
	sleep "$(awk "BEGIN { print $3 / 1000 }")"
	signal_backend CONT "$1"
}

# swap_loop DIR TARGET: DIR is a directory, then a symlink, then again...
swap_loop() {
	local end=$((SECONDS + 3))
	while [ $SECONDS -lt $end ]; do
		mv -T "$1" "$1.aside" 2>/dev/null || break
		ln -s "$2" "$1"
		rm -f "$1"
		mv -T "$1.aside" "$1"
	done
}

run() {
	local id=$1 verb path text reply= kpid
	read -r verb path text <"$AGENT/cmd-$id" || true
	rm -f "$AGENT/cmd-$id"
	if [[ $verb = dump || $verb = resize || $verb = screenshot ]]; then
		# SCANOUT is a number; NAME a plain file name, W and H numbers.
		if [[ ! $path =~ ^[0-9]+$ ]]; then
			reply=error
		elif [ "$verb" = dump ] && [[ $text =~ ^[A-Za-z0-9_-]+$ ]]; then
			reply=$(ctl dump "$path" "$AGENT/$text.rgb")
		elif [ "$verb" = screenshot ] && [[ $text =~ ^[A-Za-z0-9_-]+$ ]]; then
			reply=$(ctl screenshot "$path" "$AGENT/$text.png")
		elif [ "$verb" = resize ] && [[ $text =~ ^[0-9]+\ [0-9]+$ ]]; then
			# shellcheck disable=SC2086 # W H: two words
			reply=$(ctl resize "$path" $text)
		else
			reply=error
		fi
	elif [ "$verb" = kill ]; then
		# DELAY_MS: answer first, the guest cannot read it afterwards.
		# shellcheck disable=SC2206 # RESTART_MS and OLD NEW pairs: words
		local -a rest=($text)
		local restart=${rest[0]:-} i renames_ok=1
		for ((i = 1; i < ${#rest[@]}; i++)); do
			[ "${rest[i]}" = :lock ] && [ $((i % 2)) = 1 ] ||
				safe_path "${rest[i]}" || renames_ok=
		done
		[ $(( ${#rest[@]} % 2 )) = 1 ] || [ ${#rest[@]} = 0 ] ||
			renames_ok=
		if [[ $path =~ ^[0-9]+$ ]] && [[ $restart =~ ^[0-9]*$ ]] &&
		   [ -n "$renames_ok" ] &&
		   [ -n "${VBRIDGED_PIDFILE:-}" ] &&
		   kpid=$(cat "$VBRIDGED_PIDFILE" 2>/dev/null) &&
		   [[ $kpid =~ ^[0-9]+$ ]]; then
			(sleep "$(awk "BEGIN { print $path / 1000 }")"
			 signal_backend KILL "$kpid"
			 [ -z "$restart" ] && exit 0
			 # While no backend runs: the guest finds them by handle.
			 for ((i = 1; i + 1 < ${#rest[@]}; i += 2)); do
				if [ "${rest[i]}" = :lock ]; then
					# Until the killed one's locks are gone.
					(n=0
					 until "$LOCKER" "$DIR/${rest[i + 1]}" \
						"$DIR/${rest[i + 1]}.unlock" >/dev/null 2>&1; do
						n=$((n + 1))
						[ $n -lt 50 ] || exit 1
						sleep 0.1
					 done) &
				else
					mv -T "$DIR/${rest[i]}" "$DIR/${rest[i + 1]}" ||
						echo "host-agent: cannot rename ${rest[i]}" >&2
				fi
			 done
			 sleep "$(awk "BEGIN { print $restart / 1000 }")"
			 : >"$VBRIDGED_PIDFILE.restart") &
			PIDS+=("$!")
			reply=ok
		else
			reply=error
		fi
	elif [ "$verb" = stall ]; then
		# DELAY_MS DURATION_MS: numbers; vbridged's pid from the pid file.
		if [[ $path =~ ^[0-9]+$ ]] && [[ $text =~ ^[0-9]+$ ]] &&
		   [ -n "${VBRIDGED_PIDFILE:-}" ] &&
		   STALL_PID=$(cat "$VBRIDGED_PIDFILE" 2>/dev/null) &&
		   [[ $STALL_PID =~ ^[0-9]+$ ]]; then
			stall "$STALL_PID" "$path" "$text" &
			PIDS+=("$!")
			reply=ok
		else
			STALL_PID=
			reply=error
		fi
	elif [ "$verb" = chase ]; then
		if safe_path "$path" && [[ $text =~ ^[0-9]+$ ]] &&
		   reply=$(python3 "$ROOT/scripts/lib/host-chase.py" \
				"$DIR/$path" "$text"); then
			reply="ok $reply"
		else
			reply=error
		fi
	elif [ "$verb" = flood ]; then
		if safe_path "$path" && safe_path "$text" &&
		   [ -n "${VBRIDGED_PIDFILE:-}" ] &&
		   kpid=$(cat "$VBRIDGED_PIDFILE" 2>/dev/null) &&
		   [[ $kpid =~ ^[0-9]+$ ]]; then
			local fl=$DIR/.flood-$id i
			signal_backend STOP "$kpid"
			# Two notifications each (created, closed): 24000, more
			# than fanotify's and inotify's queues (16384) hold.  A
			# shell loop: no process per file, a few seconds at most,
			# well within the guest's request timeout.
			if mkdir "$fl"; then
				for ((i = 0; i < 12000; i++)); do
					: >"$fl/f$i"
				done
			fi
			printf 'FLOOD' >>"$DIR/$path"
			: >"$DIR/$text"
			signal_backend CONT "$kpid"
			rm -rf "$fl"
			reply=ok
		else
			reply=error
		fi
	elif [ "$verb" = vnc ]; then
		# NAME: a plain file name.
		if [[ $path =~ ^[A-Za-z0-9_-]+$ ]] && [ -z "$text" ]; then
			reply=$(vnc "$path")
		else
			reply=error
		fi
	elif [ "$verb" = swap ]; then
		if [[ $path =~ ^[A-Za-z0-9_-]+$ ]] && [ ! -L "$DIR/$path" ] &&
		   [ -d "$DIR/$path" ] && [ -n "$text" ]; then
			swap_loop "$DIR/$path" "$text" &
			PIDS+=("$!")
		else
			echo "host-agent: bad swap '$path'" >&2
		fi
		echo "host-agent: bad path '$path'" >&2
	else
		case $verb in
		write)
			printf '%s' "$text" >"$DIR/$path" ;;
		append)
			printf '%s' "$text" >>"$DIR/$path" ;;
		appendn)
			if [[ $text =~ ^([0-9]+)\ (.*)$ ]]; then
				for ((i = 0; i < BASH_REMATCH[1]; i++)); do
					printf '%s\n' "${BASH_REMATCH[2]}" >>"$DIR/$path"
				done
			fi ;;
		truncate)
			[[ ! $text =~ ^[0-9]+$ ]] || truncate -s "$text" "$DIR/$path" ;;
		remove)
			rm -f -- "$DIR/$path" ;;
		lock)
			coproc LOCK { exec "$LOCKER" "$DIR/$path" "$DIR/$path.unlock"; }
			PIDS+=("$LOCK_PID")
			read -r _ <&"${LOCK[0]}" || true ;;
		sha256)
			local sum size
			if [ -f "$DIR/$path" ] && [ ! -L "$DIR/$path" ] &&
			   sum=$(sha256sum <"$DIR/$path") &&
			   size=$(stat -c %s -- "$DIR/$path"); then
				reply="ok ${sum%% *} $size"
			else
				reply=error
			fi ;;
		*)
			echo "host-agent: unknown command '$verb'" >&2 ;;
		esac
	fi
	printf '%s' "${reply:+$reply$'\n'}" >"$AGENT/done-$id.tmp"
	mv "$AGENT/done-$id.tmp" "$AGENT/done-$id"
}

while :; do
	for f in "$AGENT"/cmd-*; do
		[ -e "$f" ] || continue
		run "${f##*/cmd-}"
	done
	sleep 0.02
done
