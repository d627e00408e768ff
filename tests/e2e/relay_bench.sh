#!/bin/bash
# End-to-end run of bench/relay-bench --quick: every figure is printed with a
# number for every setup (n/a only where a setup has no such figure: the
# proxy keeps no flow table), tunrelay relayed real traffic and the backend
# saw the client's own address through it. Never gates on a figure's value.
# Skipped (77) without root, /dev/net/tun or a tool (scripts/setup.sh bench).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init relay-bench ip nft ethtool iperf3 socat python3 ss timeout
BENCH=$here/../../bench/relay-bench
BUILD=$(dirname "$BIN")
e2e_built "$BUILD/bench/flowgen"

OUT=$TMP/out
e2e_watchdog 400

RELAY_BENCH_ID=rbtest$$ top_builddir=$BUILD timeout 360 bash "$BENCH" --quick >"$OUT" 2>&1
rc=$?
if [ "$rc" = 0 ]; then ok "relay-bench --quick: exit 0"; else not_ok "relay-bench --quick: exit $rc"; fi

num='[0-9]+(\.[0-9]+)?'
# row LABEL [PROXY]: the row exists with a number for kernel and tunrelay and,
# for the proxy, a number (or PROXY, e.g. n/a)
row() {
	local label=$1 alt=${2:-} line k t p
	line=$(grep -F -- "$label" "$OUT" | head -1)
	if [ -z "$line" ]; then not_ok "row '$label' printed"; return; fi
	read -r k t p <<<"$(printf '%s\n' "${line#"$label"}" | awk '{ print $1, $2, $3 }')"
	if [[ $k =~ ^$num$ && $t =~ ^$num$ && ( $p =~ ^$num$ || ( -n $alt && $p == "$alt" ) ) ]]; then
		ok "row '$label': kernel $k, tunrelay $t, proxy $p"
	else
		not_ok "row '$label': not a number for every setup: $line"
	fi
}
row "TCP 1 stream, Gbit/s (hi)"
row "TCP 4 streams, Gbit/s (hi)"
row "UDP 64 B received, kpps (hi)"
row "new TCP connections/s (hi)"
row "round trip p50, us (lo)"
row "round trip p99, us (lo)"
row "added p50 vs kernel, us (lo)"
row "added p99 vs kernel, us (lo)"
row "CPU s per GB, TCP 1 stream (lo)"
row "memory B/flow at 10000 flows (lo)" n/a
for h in command: kernel: cpu: queues:; do
	expect "header line '$h'" "^$h " cat "$OUT"
done
expect "tunrelay relayed real traffic" '^tunrelay forwarded packets \(last round\): [1-9][0-9]*$' cat "$OUT"
expect "the backend saw the client's address through kernel and tunrelay" \
    'backend saw the client as: kernel 198\.51\.100\.10, tunrelay 198\.51\.100\.10, proxy ' cat "$OUT"
left=$(ip netns list | grep -c "rbtest$$")
if [ "$left" = 0 ]; then ok "no namespace left behind"; else not_ok "$left namespaces left behind"; fi

if [ "$fail" -gt 0 ]; then
	echo "--- relay-bench output"
	cat "$OUT"
else
	sed -n '/^figure/,$p' "$OUT"
fi
e2e_summary
