#!/bin/sh
# Command line tests of vbridged, in TAP.
#
# usage: cli.sh PATH/TO/vbridged
D=$1
# LeakSanitizer ptraces at exit, which the sandboxed daemon cannot allow.
export ASAN_OPTIONS=detect_leaks=0
n=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		sed 's/^/#   /' "$tmp/out" "$tmp/err"
	fi
}

# expect STATUS PATTERN NAME -- ARGS: exit status STATUS, stdout+stderr
# matching the extended regular expression PATTERN.
expect() {
	status=$1 pattern=$2 name=$3
	shift 4
	"$D" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq "$status" ] && cat "$tmp/out" "$tmp/err" | grep -Eq -- "$pattern"; then
		result 0 "$name"
	else
		echo "# exit status $rc, expected $status"
		result 1 "$name"
	fi
}

mkdir "$tmp/dir"
touch "$tmp/file"

expect 0 '^Usage: vbridged' "--help" -- --help
expect 0 '^vbridged [0-9.]+ \(vbridge protocol 2\.4\)$' "--version" -- --version
expect 0 '"type": "vbridge"' "--print-capabilities" -- --print-capabilities
expect 0 '"features": \[' "--print-capabilities ignores other arguments" -- \
	--print-capabilities --bogus
expect 1 'error: exactly one of --socket-path and --fd' "no socket" --
expect 1 'error: exactly one of --socket-path and --fd' "--socket-path and --fd" -- \
	--socket-path "$tmp/s" --fd 3
expect 1 "error: unknown option '--bogus'" "unknown option" -- --bogus
expect 1 "error: option '--fd' needs an argument" "missing argument" -- --fd
expect 1 "error: unexpected argument 'extra'" "extra argument" -- \
	--socket-path "$tmp/s" extra
expect 1 "error: --fd: invalid file descriptor 'x'" "bad --fd" -- --fd x
expect 1 'error: file descriptor 9 is not a socket' "--fd not a socket" -- --fd 9
expect 1 "error: --num-queues: expected 1 to 64, not '0'" "--num-queues 0" -- \
	--socket-path "$tmp/s" --num-queues 0
expect 1 "error: --num-queues: expected 1 to 64, not '65'" "--num-queues 65" -- \
	--socket-path "$tmp/s" --num-queues 65
expect 1 "error: --num-queues: expected 1 to 64" "--num-queues -1" -- \
	--socket-path "$tmp/s" --num-queues=-1
expect 1 "error: --allow-xattr: expected a list of trusted, security, not 'system'" \
	"--allow-xattr system" -- --socket-path "$tmp/s" --allow-xattr system
expect 1 "error: --allow-xattr: expected a list of trusted, security, not 'trusted,'" \
	"--allow-xattr trailing comma" -- --socket-path "$tmp/s" --allow-xattr trusted,
expect 1 "error: --max-watches: expected at least 1, not '0'" "--max-watches 0" -- \
	--socket-path "$tmp/s" --max-watches 0
expect 1 "error: --attr-timeout: expected 0 to 3600000 milliseconds, not '-1'" \
	"--attr-timeout -1" -- --socket-path "$tmp/s" --attr-timeout -1
expect 1 "error: --entry-timeout: expected 0 to 3600000 milliseconds, not '1s'" \
	"--entry-timeout 1s" -- --socket-path "$tmp/s" --entry-timeout=1s
expect 0 '--attr-timeout=MS' "--help lists --attr-timeout" -- --help
expect 0 'allow-xattr=LIST' "--help lists --allow-xattr" -- --help
expect 1 "error: --log-level: unknown level 'loud'" "bad --log-level" -- \
	--socket-path "$tmp/s" --log-level loud
expect 1 'No such file or directory' "shared dir missing" -- \
	--socket-path "$tmp/s" --shared-dir "a=$tmp/missing"
expect 1 'Not a directory' "shared dir not a directory" -- \
	--socket-path "$tmp/s" --shared-dir "a=$tmp/file"
expect 1 "error: --shared-dir b=.*: duplicate tag 'b'" "duplicate tag" -- \
	--socket-path "$tmp/s" --shared-dir "b=$tmp/dir" --shared-dir "b=$tmp/dir:ro"
expect 1 'expected TAG=DIR' "shared dir without tag" -- \
	--socket-path "$tmp/s" --shared-dir "$tmp/dir"
expect 1 'printable ASCII' "tag with a space" -- \
	--socket-path "$tmp/s" --shared-dir "a b=$tmp/dir"
expect 1 'the tag must have 1 to 36 bytes' "tag too long" -- \
	--socket-path "$tmp/s" --shared-dir "0123456789012345678901234567890123456=$tmp/dir"
expect 1 'at most 6 --shared-dir' "too many shared dirs" -- --socket-path "$tmp/s" \
	--shared-dir "a=$tmp/dir" --shared-dir "b=$tmp/dir" --shared-dir "c=$tmp/dir" \
	--shared-dir "d=$tmp/dir" --shared-dir "e=$tmp/dir" --shared-dir "f=$tmp/dir" \
	--shared-dir "g=$tmp/dir"
expect 1 'exists and is not a socket' "socket path is a regular file" -- \
	--socket-path "$tmp/file"
[ -f "$tmp/file" ]
result $? "regular file at the socket path left alone"
expect 1 'path too long' "socket path too long" -- --socket-path \
	"$tmp/$(printf '%0120d' 0)"
expect 0 '--display=WIDTHxHEIGHT' "--help mentions --display" -- --help
for d in 0x600 800x0 16385x600 800x600,heads=0 800x600,heads=17 800 \
	800x600x 800x600,heads= -800x600 800x600,foo=1; do
	expect 1 "error: --display: expected WIDTHxHEIGHT" "--display $d" -- \
		--socket-path "$tmp/s" --display "$d"
done
expect 1 'error: --vnc: expected :N' "--vnc unix: unsupported" -- \
	--socket-path "$tmp/s" --display 800x600 --vnc "unix:$tmp/vnc"
expect 1 'error: --vnc: expected :N' "--vnc port too large" -- \
	--socket-path "$tmp/s" --display 800x600 --vnc :59636
expect 1 'error: --vnc and --control-socket need --display' "--vnc without --display" -- \
	--socket-path "$tmp/s" --vnc :1
expect 1 'error: --vnc and --control-socket need --display' \
	"--control-socket without --display" -- --socket-path "$tmp/s" \
	--control-socket "$tmp/c"
expect 1 'control-socket .*: exists and is not a socket' \
	"control socket path is a regular file" -- --socket-path "$tmp/s" \
	--display 800x600 --control-socket "$tmp/file"
[ -f "$tmp/file" ]
result $? "regular file at the control socket path left alone"
expect 1 'error: --vnc-password-file needs --vnc' "--vnc-password-file without --vnc" -- \
	--socket-path "$tmp/s" --display 800x600 --vnc-password-file "$tmp/file"
expect 1 'vnc-password-file .*: no password' "empty --vnc-password-file" -- \
	--socket-path "$tmp/s" --display 800x600 --vnc :59000 --vnc-password-file "$tmp/file"
expect 1 'vnc-password-file .*: No such file' "missing --vnc-password-file" -- \
	--socket-path "$tmp/s" --display 800x600 --vnc :59000 --vnc-password-file "$tmp/none"
expect 1 "error: --socket-group: no group 'no-such-group-x'" "unknown --socket-group" -- \
	--socket-path "$tmp/s" --socket-group no-such-group-x
expect 1 'error: --socket-group needs --socket-path' "--socket-group with --fd" -- \
	--fd 0 --socket-group 0
expect 0 '--vnc-password-file=FILE' "--help mentions --vnc-password-file" -- --help
expect 1 'error: --handle-key needs --shared-dir' "--handle-key without --shared-dir" -- \
	--socket-path "$tmp/s" --handle-key "$tmp/key"
# A missing key is made, private; the socket's failure comes after it.
expect 1 'handle-key .*: new key' "--handle-key makes a missing key" -- \
	--socket-path "$tmp/none/s" --shared-dir "t=$tmp/dir" --handle-key "$tmp/key"
[ "$(stat -c '%a %s' "$tmp/key" 2>&1)" = "600 32" ] >"$tmp/out" 2>"$tmp/err"
result $? "the key made by --handle-key is 32 bytes, mode 0600"
expect 1 'socket-path' "--handle-key reads an existing key" -- \
	--socket-path "$tmp/none/s" --shared-dir "t=$tmp/dir" --handle-key "$tmp/key"
chmod 644 "$tmp/key"
expect 1 'handle-key .*: must be a regular file of 32 bytes that only its owner' \
	"--handle-key refuses a key others may read" -- \
	--socket-path "$tmp/none/s" --shared-dir "t=$tmp/dir" --handle-key "$tmp/key"
head -c 16 /dev/urandom >"$tmp/short" && chmod 600 "$tmp/short"
expect 1 'handle-key .*: must be a regular file of 32 bytes' \
	"--handle-key refuses a short key" -- \
	--socket-path "$tmp/none/s" --shared-dir "t=$tmp/dir" --handle-key "$tmp/short"
expect 0 '--sandbox=MODE' "--help mentions --sandbox" -- --help
expect 1 "error: --sandbox: expected namespace, chroot or none, not 'jail'" \
	"bad --sandbox" -- --socket-path "$tmp/s" --sandbox jail
expect 1 "error: --seccomp: expected kill, log, trap or none, not 'allow'" \
	"bad --seccomp" -- --socket-path "$tmp/s" --seccomp allow
expect 0 '--socket-group=GROUP' "--help mentions --socket-group" -- --help

expect 1 'serial-socket .*: exists and is not a socket' \
	"serial socket path is a regular file" -- --serial-socket "$tmp/file" \
	--shared-dir "a=$tmp/dir"
[ -f "$tmp/file" ]
result $? "regular file at the serial socket path left alone"
# --serial-socket alone: one peer, then exit 0 when it hangs up.
"$D" --serial-socket "$tmp/ser" --shared-dir "a=$tmp/dir" >"$tmp/out" 2>"$tmp/err" &
pid=$!
i=0
while [ ! -S "$tmp/ser" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.close()' "$tmp/ser"
wait $pid
rc=$?
[ $rc -eq 0 ] && grep -q 'serial: the peer closed the connection' "$tmp/err" &&
	[ ! -e "$tmp/ser" ]
result $? "--serial-socket alone serves one peer and exits 0"

echo "1..$n"
[ $failed -eq 0 ]
