#!/bin/sh
# Run TAP test programs as one TAP stream: renumber their results, add
# a "not ok" for a program that dies without saying so, then print the
# plan and a summary line.  Exits non-zero if anything failed.
#
# usage: run.sh 'PROGRAM [ARGS]'...
n=0
failed=0
for prog in "$@"; do
	out=$(mktemp)
	$prog >"$out"
	rc=$?
	while IFS= read -r line; do
		case $line in
		"ok "*)
			n=$((n + 1))
			echo "ok $n -${line#* -}"
			;;
		"not ok "*)
			n=$((n + 1))
			failed=$((failed + 1))
			echo "not ok $n -${line#* -}"
			;;
		1..*)
			;;
		*)
			echo "$line"
			;;
		esac
	done <"$out"
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
		n=$((n + 1))
		failed=$((failed + 1))
		echo "not ok $n - $prog exited with status $rc"
	fi
	rm -f "$out"
done
echo "1..$n"
echo "$((n - failed)) passed, $failed failed"
[ $failed -eq 0 ]
