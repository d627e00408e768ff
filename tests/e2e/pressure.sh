#!/bin/bash
# End-to-end: table pressure from one-reply UDP flows on the front + back
# topology (tests/e2e/topo.sh), max_flows = 64. 5000 UDP flows (distinct
# client source ports, one datagram each) to a service that answers each
# once fill the table; none of them is a two-way stream, and in keep mode
# any flow can be rebuilt, so they must not lock the table: a new TCP
# connection gets in at once (answered within a second, the backend seeing
# the client's address), and so does a new UDP flow.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init pressure ip nft python3 ethtool
CONF=$TMP/front.ini
MAX=64
FLOWS=5000

e2e_watchdog 150

stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
{ topo_front_conf "$TMP/ctl.sock"; echo "max_flows = $MAX"; } >"$CONF"
ip netns exec "$NS_F" "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
DPID=$!
topo_wait 100 inF "$BIN" stats -c "$CONF" || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up (max_flows $MAX)"

# the flood: ports 10000..14999 (below the client's ephemeral range)
out=$(inC timeout 120 python3 "$CRAFT" udp-once 198.51.100.1 53 "$FLOWS" 10000 32)
answered=$(echo "$out" | sed -n 's/^answered \([0-9]*\) .*/\1/p')
active=$(stat flows_active)
echo "# $FLOWS one-reply UDP flows: $out; flows_active $active of $MAX, flows_created $(stat flows_created), flows_evicted $(stat flows_evicted), drop_table_full $(stat drop_table_full)"
if [ "$active" = "$MAX" ]; then ok "the table is full ($active flows)"
else not_ok "the table holds $active flows after the flood, want $MAX"; fi
if [ "${answered:-0}" -gt "$MAX" ]; then ok "flows beyond the table's size still got in ($answered of $FLOWS answered)"
else not_ok "only $answered of $FLOWS UDP flows answered: the first ones locked the table"; fi

tf0=$(stat drop_table_full)
# 3 s: one lost SYN is sent again after 1 s; a locked table never answers
if tcp=$(inC python3 "$CRAFT" tcp-within 198.51.100.1 80 3) && [[ $tcp =~ ^peer=198\.51\.100\.10\  ]]; then
	ok "a new TCP connection gets in and is relayed within 3 s ($tcp)"
else
	not_ok "a new TCP connection within 3 s: $tcp"
fi
expect "a new UDP flow gets in" '^peer=198\.51\.100\.10$' \
    inC python3 "$PEER" udp-line 198.51.100.1 53 0.0.0.0 15000
tf1=$(stat drop_table_full)
echo "# drop_table_full +$((tf1 - tf0)) for the new TCP connection and UDP flow; flows_active $(stat flows_active)"
if [ "$(stat flows_active)" -le "$MAX" ]; then ok "flows_active stays within max_flows"
else not_ok "flows_active $(stat flows_active) > $MAX"; fi

kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $rc"; fi
if grep -Eq 'Sanitizer|runtime error' "$TMP/front.log"; then not_ok "sanitizer reports in the front's log"
else ok "no sanitizer reports from the front"; fi
if [ "$fail" -gt 0 ]; then echo "--- front log"; grep -v "added\|removed\|restored\|put back" "$TMP/front.log" | tail -n 20; fi
e2e_summary
