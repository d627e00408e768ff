# shellcheck shell=bash
# tap.sh - what every end-to-end script shares: "ok"/"not ok" lines with a
# tally, the skip rule (exit 77 without root, /dev/net/tun or a tool), and a
# watchdog that ends a script running too long. Sourced, never run; the
# watchdog needs topo.sh (its pid joins TOPO_PIDS, stopped by topo_down).

pass=0
fail=0

skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }

# expect DESC PATTERN COMMAND...: the command's output must match PATTERN
expect() {
	local desc=$1 pat=$2 out; shift 2
	out=$("$@" 2>&1)
	if printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		ok "$desc"
	else
		not_ok "$desc (wanted /$pat/, got: $(printf '%s' "$out" | head -5))"
	fi
}

# check DESC COMMAND...: the command must succeed
check() { local desc=$1; shift; if "$@" >/dev/null 2>&1; then ok "$desc"; else not_ok "$desc"; fi; }

# e2e_require TOOL...: skip unless root, /dev/net/tun and every tool are here
e2e_require() {
	local t
	[ -z "${TUNRELAY_SKIP_E2E:-}" ] || skip "TUNRELAY_SKIP_E2E is set"
	[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
	[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
	for t in "$@"; do
		command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh test)"
	done
}

# e2e_watchdog SECONDS: a script still running after SECONDS says so and is
# sent SIGTERM (its EXIT trap cleans up)
e2e_watchdog() {
	local me=$$ name
	name=$(basename "$0")
	(
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		sleep "$1" & s=$!
		wait "$s" && { echo "not ok - $name timed out"; kill -TERM "$me"; }
	) 2>/dev/null &
	TOPO_PIDS+=($!)
}

# e2e_summary: the tally; the script's status (0 when nothing failed)
e2e_summary() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}
