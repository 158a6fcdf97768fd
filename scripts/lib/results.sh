# shellcheck shell=bash
# Results of a guest boot's log, shared by test.sh and security-report.sh
# (sourced, not run).

# guest_results LOG: "PASS FAIL RUNS" over the kselftest closing lines
# ("# Totals: pass:N fail:N ...", RUNS of them) and the job's own
# "ok - "/"not ok - " lines; "0 0 0" without the log.
guest_results() {
	local p=0 f=0 runs=0 a b
	[ -f "$1" ] || { echo "0 0 0"; return; }
	while read -r a b; do
		p=$((p + a)); f=$((f + b)); runs=$((runs + 1))
	done < <(tr -d '\r' <"$1" |
		sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) .*/\1 \2/p')
	p=$((p + $(tr -d '\r' <"$1" | grep -ac '^ok - ')))
	f=$((f + $(tr -d '\r' <"$1" | grep -ac '^not ok - ')))
	echo "$p $f $runs"
}
