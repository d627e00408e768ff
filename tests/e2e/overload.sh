#!/bin/bash
# End-to-end: overload on the keep-client-ip topology (tests/e2e/topo.sh), with
# max_flows = 64.
#  1. A table full of established flows and a SYN flood from thousands of
#     spoofed sources: an established connection keeps transferring (its
#     rate is printed next to the rate of an idle relay), new clients still
#     get in: finished and half-open flows are evicted first, and in keep
#     mode established flows too (the rules rebuild them from their next
#     packet), so nothing is refused; evictions are told in a rate-limited
#     log line. (A table that refuses: full-NAT flows, tests/e2e/tablefull.sh.)
#  2. Per-source limits (per_source_flows, per_source_rate) turned on by
#     SIGHUP: a source over its limit is refused, another source is not.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init overload ip nft python3 ethtool
CONF=$TMP/front.ini
MAX=64

e2e_watchdog 240

stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }
# hold NAME N SECONDS [SRC]: N connections in the background, until they
# are counted; held NAME: how many got in; unhold: close them all
HOLDS=()
hold() {
	topo_bg "$NS_C" python3 "$CRAFT" hold 198.51.100.1 80 "$2" "$3" "${4:-0.0.0.0}" >"$TMP/$1"
	HOLDS+=("${TOPO_PIDS[-1]}")
	topo_wait 150 grep -q held "$TMP/$1"
}
held() { sed -n 's/^held //p' "$TMP/$1"; }
unhold() {
	local p
	for p in "${HOLDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	HOLDS=()
}
start() { topo_run DPID "$NS_F" "$CONF" "$TMP/front.log"; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
inC ip addr add 198.51.100.11/24 dev c-eth0
inC ip addr add 198.51.100.12/24 dev c-eth0
{ topo_front_conf "$TMP/ctl.sock"; echo "max_flows = $MAX"; } >"$CONF"
start || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up (max_flows $MAX)"
FMAC=$(inF cat /sys/class/net/f-eth0/address)

# --- 1. table full, SYN flood ---------------------------------------------------
touch "$TMP/go0"
if base=$(inC python3 "$CRAFT" send-after 198.51.100.1 80 200 "$TMP/go0" "$TMP/r0"); then
	ok "idle relay: 200 MB at $base"
else
	not_ok "idle relay transfer: $base"
fi
# the established connection, idle until the table is under attack
topo_bg "$NS_C" python3 "$CRAFT" send-after 198.51.100.1 80 200 "$TMP/go1" "$TMP/r1" >"$TMP/bulk.out"
BULK=${TOPO_PIDS[-1]}
topo_wait 50 test -e "$TMP/r1" || not_ok "established connection did not open"
hold h1 40 60; n1=$(held h1)
if [ "$n1" = 40 ]; then ok "40 more established connections held"; else not_ok "40 connections held: $n1"; fi
active=$(stat flows_active)
echo "# flows_active $active of $MAX"

ev0=$(stat flows_evicted)
cr0=$(stat flows_created)
topo_bg "$NS_C" python3 "$CRAFT" synflood c-eth0 "$FMAC" 198.51.100.1 80 20000 4000 >"$TMP/flood.out"
FLOOD=${TOPO_PIDS[-1]}
sleep 1
touch "$TMP/go1"	# the established connection sends while the flood runs
okc=0
for _ in 1 2 3 4 5; do
	inC python3 "$PEER" tcp-who 198.51.100.1 80 2>/dev/null | grep -q '^peer=198\.51\.100\.10 ' && okc=$((okc + 1))
	sleep 0.3
done
if [ "$okc" = 5 ]; then ok "during the flood: 5 of 5 new connections from a real client got in"
else not_ok "during the flood: $okc of 5 new connections got in"; fi
wait "$FLOOD"
ev1=$(stat flows_evicted)
cr1=$(stat flows_created)
echo "# SYN flood: $(cat "$TMP/flood.out") spoofed SYNs sent, $((cr1 - cr0)) new flows seen by the engine, flows_evicted +$((ev1 - ev0)), flows_active $(stat flows_active)"
echo "# trl-pub queue drops (kernel to relay, all traffic): $(inF cat /sys/class/net/trl-pub/statistics/tx_dropped)"
# every new flow but those the table could still hold made room by evicting
if [ $((cr1 - cr0)) -ge 10000 ] && [ $((ev1 - ev0)) -ge $((cr1 - cr0 - MAX)) ]; then
	ok "flood flows made room by eviction ($((ev1 - ev0)) evicted for $((cr1 - cr0)) new)"
else
	not_ok "flood: $((ev1 - ev0)) evicted for $((cr1 - cr0)) new flows"
fi
if [ "$(stat flows_active)" -le "$MAX" ]; then ok "flows_active stays within max_flows"
else not_ok "flows_active $(stat flows_active) > $MAX"; fi
if wait "$BULK"; then ok "established connection under the flood: 200 MB at $(cat "$TMP/bulk.out")"
else not_ok "established connection under the flood: $(cat "$TMP/bulk.out")"; fi

# now fill what is left: finished and half-open flows make room, then keep-mode
# established ones (rebuildable): every new connection gets in, none refused
ev0=$(stat flows_evicted)
tf0=$(stat drop_table_full)
t0=$(date +%s)
hold h2 40 30; n2=$(held h2)
tf1=$(stat drop_table_full)
ev1=$(stat flows_evicted)
inF "$BIN" flows -c "$CONF" >"$TMP/flows.after"
el=$(($(date +%s) - t0 + 1))
# The backend retransmits its SYN+ACKs to the spoofed sources for a while,
# and each one rebuilds its flow (reply-side pickup): those are younger than
# the second hold. A flood flow older than that outlived the eviction.
grep 'src=\(192\.0\.2\|203\.0\.113\)\.' "$TMP/flows.after" >"$TMP/flood.left"
left=$(wc -l <"$TMP/flood.left")
old=$(sed -n 's/.* age=\([0-9]*\)s .*/\1/p' "$TMP/flood.left" | awk -v e="$el" '$1 > e' | wc -l)
echo "# second hold: $n2 of 40 got in; flows_evicted +$((ev1 - ev0)); flood flows left $left ($((left - old)) rebuilt by SYN+ACK retransmissions since); drop_table_full +$((tf1 - tf0))"
if [ "$n2" = 40 ]; then ok "table full: all 40 new connections got in, making room by eviction (+$((ev1 - ev0)))"
else not_ok "table full: $n2 of 40 new connections got in"; fi
if [ "$old" = 0 ]; then ok "every half-open flood flow was evicted"
else not_ok "$old flood flows from before the second hold still tracked"; cat "$TMP/flood.left"; fi
if [ "$(stat flows_active)" = "$MAX" ]; then ok "table holds $MAX flows"
else not_ok "table holds $(stat flows_active) flows"; fi
if [ $((tf1 - tf0)) = 0 ]; then ok "keep mode: no new flow refused (drop_table_full +0)"
else not_ok "drop_table_full grew by $((tf1 - tf0))"; fi
topo_wait 120 grep -q 'flow table full' "$TMP/front.log"
lines=$(grep -c 'flow table full' "$TMP/front.log")
if [ "$lines" -ge 1 ] && [ "$lines" -le 4 ]; then ok "table full logged, rate-limited ($lines lines): $(grep -m1 'flow table full' "$TMP/front.log" | cut -c30-)"
else not_ok "table full log lines: $lines"; fi

# --- 2. per-source limits ------------------------------------------------------
unhold
sleep 1
{ topo_front_conf "$TMP/ctl.sock"; echo "max_flows = $MAX"; echo "per_source_flows = 5"; } >"$CONF"
kill -HUP "$DPID"
topo_wait 50 sh -c "[ \$(grep -c reloaded '$TMP/front.log') -ge 1 ]"
sf0=$(stat drop_source_flows)
hold h3 10 20 198.51.100.11; n3=$(held h3)
hold h4 5 20 198.51.100.12; n4=$(held h4)
sf1=$(stat drop_source_flows)
if [ "$n3" = 5 ]; then ok "per_source_flows = 5: 5 of 10 connections from one source"
else not_ok "per_source_flows = 5: $n3 of 10 connections from one source"; fi
if [ "$n4" = 5 ]; then ok "per_source_flows: another source unaffected (5 of 5)"
else not_ok "per_source_flows: another source got $n4 of 5"; fi
if [ $((sf1 - sf0)) -ge 2 ]; then ok "refusals counted (drop_source_flows +$((sf1 - sf0)))"
else not_ok "drop_source_flows +$((sf1 - sf0))"; fi

{ topo_front_conf "$TMP/ctl.sock"; echo "max_flows = $MAX"; echo "per_source_rate = 5"; } >"$CONF"
kill -HUP "$DPID"
topo_wait 50 sh -c "[ \$(grep -c reloaded '$TMP/front.log') -ge 2 ]"
unhold
sleep 1
sr0=$(stat drop_source_rate)
a1=$(inC python3 "$CRAFT" udp-burst 198.51.100.1 53 30 198.51.100.11 | sed -n 's/^answered //p')
a2=$(inC python3 "$CRAFT" udp-burst 198.51.100.1 53 5 198.51.100.12 | sed -n 's/^answered //p')
sr1=$(stat drop_source_rate)
if [ "${a1:-0}" -ge 5 ] && [ "${a1:-0}" -le 7 ]; then ok "per_source_rate = 5: $a1 of 30 new flows at once"
else not_ok "per_source_rate = 5: $a1 of 30 new flows at once (want 5..7)"; fi
if [ "${a2:-0}" = 5 ]; then ok "per_source_rate: another source unaffected (5 of 5)"
else not_ok "per_source_rate: another source got $a2 of 5"; fi
if [ $((sr1 - sr0)) -ge 23 ]; then ok "refusals counted (drop_source_rate +$((sr1 - sr0)))"
else not_ok "drop_source_rate +$((sr1 - sr0))"; fi
topo_wait 120 grep -q 'per-source limits:' "$TMP/front.log"
if grep -q 'per-source limits:' "$TMP/front.log"; then ok "per-source refusals logged: $(grep -m1 'per-source limits:' "$TMP/front.log" | cut -c30-)"
else not_ok "per-source refusals not logged"; fi
expect "relay still serves" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80

kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $rc"; fi
if [ "$fail" -gt 0 ]; then echo "--- front log"; tail -n 40 "$TMP/front.log"; fi
e2e_summary
