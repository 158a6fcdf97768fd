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
#   lock PATH         hold a POSIX write lock on PATH (tools/host-locker.c)
#                     until PATH.unlock appears; done once it is held
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
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT

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

run() {
	local id=$1 verb path text reply=
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
	elif [ "$verb" = vnc ]; then
		# NAME: a plain file name.
		if [[ $path =~ ^[A-Za-z0-9_-]+$ ]] && [ -z "$text" ]; then
			reply=$(vnc "$path")
		else
			reply=error
		fi
	elif ! safe_path "$path"; then
		echo "host-agent: bad path '$path'" >&2
	else
		case $verb in
		write)
			printf '%s' "$text" >"$DIR/$path" ;;
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
