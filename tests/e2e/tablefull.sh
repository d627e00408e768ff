#!/bin/bash
# End-to-end: a full flow table that refuses new flows answers them with ICMP
# "administratively prohibited" (RFC 5508), on the port forward topology of
# tests/e2e/topo_fwd.sh with full NAT (source = relay) and max_flows = 8.
# Established full-NAT flows are never evicted, so 8 held connections fill
# the table for good; then, from the client:
#  1. a new TCP connection fails at once with "No route to host" (ICMP 3/13
#     from the address it was sent to; the client's kernel accepts it only
#     if it quotes the SYN it sent, with correct checksums), a UDP datagram
#     gets 3/13 too, and over IPv6 TCP fails with "Permission denied"
#     (ICMPv6 1/1); every refusal is counted (drop_table_full) and every
#     answer too (table_full_icmp);
#  2. a burst of 30 new UDP flows gets at most table_full_icmp_rate answers
#     at once, the rest are dropped silently, and the counters agree with
#     what the client saw;
#  3. after a reload with table_full_icmp = no, a refused connection gets no
#     answer (it times out) and table_full_icmp stays put;
#  4. once the held connections close, new connections get in again.
#
#   client c-eth0 192.0.2.10, 2001:db8:2::10 ---+
#   relay  a-eth0 192.0.2.1,  2001:db8:2::1  ---+-- br0 in "switch"
#   server b-eth0 192.0.2.32, 2001:db8:2::32 ---+   (B's default routes lead
#                                                   nowhere: full NAT only)
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init tablefull ip python3 ethtool
# shellcheck source=tests/e2e/topo_fwd.sh
. "$here/topo_fwd.sh"

CONF=$TMP/relay.ini
MAX=8
RATE=3
e2e_watchdog 150

inA() { ip netns exec "$NS_A" "$@"; }
inC() { ip netns exec "$NS_C" "$@"; }
stat() { inA "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }

# The relay's configuration; $1 is the table_full_icmp value.
conf() {
	cat <<EOF
[front]
public_interface = a-eth0
control_socket = $TMP/ctl.sock
state_file = off
max_flows = $MAX
table_full_icmp = $1
table_full_icmp_rate = $RATE

[forward.web]
proto = tcp,udp
listen = 81
to = 192.0.2.32:80
source = relay

[forward.web6]
proto = tcp,udp
listen = [2001:db8:2::1]:81
to = [2001:db8:2::32]:80
source = relay
EOF
}

# hold ADDR N FILE SRC: N connections kept open in the background until
# killed (the count they got is in FILE); held FILE: that count
HOLDS=()
hold() {
	topo_bg "$NS_C" python3 "$CRAFT" hold "$1" 81 "$2" 120 "$4" >"$TMP/$3"
	HOLDS+=("${TOPO_PIDS[-1]}")
	topo_wait 150 grep -q held "$TMP/$3"
}
held() { sed -n 's/^held //p' "$TMP/$1"; }

fwd_port_up || { echo "not ok - topology"; exit 1; }
if ! { ip -n "$NS_C" -6 addr add 2001:db8:2::10/64 dev c-eth0 nodad &&
    ip -n "$NS_A" -6 addr add 2001:db8:2::1/64 dev a-eth0 nodad &&
    ip -n "$NS_B" -6 addr add 2001:db8:2::32/64 dev b-eth0 nodad &&
    ip -n "$NS_B" -6 route add default via 2001:db8:2::254; }; then
	echo "not ok - IPv6 addresses"; exit 1
fi
# sink servers: a held connection stays open until the client closes it
topo_bg "$NS_B" python3 "$CRAFT" serve-hold :: 80 150
topo_bg "$NS_B" python3 "$PEER" serve-udp :: 80
topo_wait 50 ip netns exec "$NS_B" python3 "$PEER" tcp-line 192.0.2.32 80 ||
    { echo "not ok - services"; exit 1; }

conf yes >"$CONF"
ip netns exec "$NS_A" "$BIN" run -c "$CONF" >>"$TMP/relay.log" 2>&1 &
DPID=$!
topo_wait 100 inA "$BIN" stats -c "$CONF" || { not_ok "relay did not come up"; cat "$TMP/relay.log"; exit 1; }
ok "relay is up (full NAT, max_flows $MAX, table_full_icmp_rate $RATE)"
expect "a connection gets through before the table fills" '^peer=(::ffff:)?192\.0\.2\.1' \
    inC python3 "$PEER" tcp-who 192.0.2.1 81

# --- 1. the table full of established full-NAT flows --------------------------
# the first connection must be closing (evictable) before the holds
no_established() { [ "$(stat flows_tcp_established)" = 0 ]; }
topo_wait 50 no_established || echo "# flows_tcp_established still $(stat flows_tcp_established)"
hold 192.0.2.1 $((MAX - 2)) h4 0.0.0.0
hold 2001:db8:2::1 2 h6 ::
n4=$(held h4)
n6=$(held h6)
if [ "$n4" = $((MAX - 2)) ] && [ "$n6" = 2 ]; then ok "$MAX established connections hold the table ($n4 IPv4, $n6 IPv6)"
else not_ok "connections held: $n4 IPv4 of $((MAX - 2)), $n6 IPv6 of 2"; fi
act=$(stat flows_active)
if [ "$act" = "$MAX" ]; then ok "flows_active = $MAX"
else not_ok "flows_active = $act, wanted $MAX"; inA "$BIN" flows -c "$CONF"; fi

sleep 1.2	# a full token bucket
tf0=$(stat drop_table_full)
ic0=$(stat table_full_icmp)
out=$(inC python3 "$CRAFT" tcp-within 192.0.2.1 81 3)
t=$(printf '%s' "$out" | sed -n 's/^no answer in \([0-9.]*\) s.*/\1/p')
if printf '%s' "$out" | grep -q 'No route to host' && awk -v t="${t:-9}" 'BEGIN { exit !(t < 1) }'; then
	ok "TCP: refused at once with ICMP 3/13 ($out)"
else
	not_ok "TCP: wanted 'No route to host' within 1 s, got: $out"
fi
expect "UDP: ICMP 3/13 from the address the datagram was sent to" \
    '^icmp type=3 code=13 from=192\.0\.2\.1$' inC python3 "$PEER" ttl-probe 192.0.2.1 81 64
sleep 0.4	# the bucket holds RATE (3) answers: the 4th needs a refill
out=$(inC python3 "$CRAFT" tcp-within 2001:db8:2::1 81 3)
if printf '%s' "$out" | grep -q 'Permission denied'; then ok "TCP over IPv6: refused at once with ICMPv6 1/1 ($out)"
else not_ok "TCP over IPv6: wanted 'Permission denied', got: $out"; fi
expect "UDP over IPv6: ICMPv6 1/1 from the address the datagram was sent to" \
    '^icmp type=1 code=1 from=2001:db8:2::1$' inC python3 "$PEER" ttl-probe 2001:db8:2::1 81 64
tf1=$(stat drop_table_full)
ic1=$(stat table_full_icmp)
if [ $((ic1 - ic0)) = 4 ] && [ $((tf1 - tf0)) -ge 4 ]; then
	ok "counted: table_full_icmp +$((ic1 - ic0)), drop_table_full +$((tf1 - tf0))"
else
	not_ok "counters: table_full_icmp +$((ic1 - ic0)) (wanted 4), drop_table_full +$((tf1 - tf0)) (wanted >= 4)"
fi

# --- 2. the answers are rate-limited -----------------------------------------
sleep 1.2
ic0=$(stat table_full_icmp)
tf0=$(stat drop_table_full)
out=$(inC python3 "$CRAFT" udp-refused 192.0.2.1 81 30)
ic1=$(stat table_full_icmp)
tf1=$(stat drop_table_full)
ref=$(printf '%s' "$out" | sed -n 's/.* refused \([0-9]*\) .*/\1/p')
ans=$(printf '%s' "$out" | sed -n 's/^answered \([0-9]*\) .*/\1/p')
echo "# 30 new UDP flows at once: $out; table_full_icmp +$((ic1 - ic0)), drop_table_full +$((tf1 - tf0))"
if [ "${ans:-x}" = 0 ] && [ "${ref:-0}" -ge 1 ] && [ "${ref:-99}" -le $((RATE + 1)) ]; then
	ok "burst of 30: $ref answered with ICMP (rate $RATE/s), the rest dropped"
else
	not_ok "burst of 30: $out (wanted 1..$((RATE + 1)) refused, none answered)"
fi
if [ "$((ic1 - ic0))" = "${ref:-x}" ] && [ $((tf1 - tf0)) -ge 30 ]; then
	ok "the counters agree with the client (table_full_icmp +$((ic1 - ic0)), drop_table_full +$((tf1 - tf0)))"
else
	not_ok "counters: table_full_icmp +$((ic1 - ic0)) for $ref seen, drop_table_full +$((tf1 - tf0)) for 30 refused"
fi

# --- 3. table_full_icmp = no: silent drops -------------------------------------
conf no >"$CONF"
kill -HUP "$DPID"
topo_wait 50 grep -q reloaded "$TMP/relay.log" || not_ok "no reload logged"
sleep 1.2
ic0=$(stat table_full_icmp)
tf0=$(stat drop_table_full)
out=$(inC python3 "$CRAFT" tcp-within 192.0.2.1 81 2)
if printf '%s' "$out" | grep -q 'timed out'; then ok "table_full_icmp = no: a refused connection gets no answer ($out)"
else not_ok "table_full_icmp = no: wanted a timeout, got: $out"; fi
expect "table_full_icmp = no: a refused UDP datagram gets nothing" '^nothing$' \
    inC python3 "$PEER" ttl-probe 192.0.2.1 81 64
ic1=$(stat table_full_icmp)
tf1=$(stat drop_table_full)
if [ "$ic1" = "$ic0" ] && [ $((tf1 - tf0)) -ge 2 ]; then
	ok "refusals still counted (drop_table_full +$((tf1 - tf0))), no answer sent"
else
	not_ok "table_full_icmp +$((ic1 - ic0)) (wanted 0), drop_table_full +$((tf1 - tf0)) (wanted >= 2)"
fi

# --- 4. room again ---------------------------------------------------------------
for p in "${HOLDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
HOLDS=()
sleep 0.5
expect "the held connections closed: a new connection gets in" '^peer=(::ffff:)?192\.0\.2\.1' \
    inC python3 "$PEER" tcp-who 192.0.2.1 81
expect "and over IPv6" '^peer=2001:db8:2::1' \
    inC python3 "$PEER" tcp-who 2001:db8:2::1 81

kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $rc"; fi
if [ "$fail" -gt 0 ]; then echo "--- relay log"; tail -n 40 "$TMP/relay.log"; fi
e2e_summary
