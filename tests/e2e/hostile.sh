#!/bin/bash
# End-to-end: hostile input and open-relay checks on the keep-client-ip topology
# (tests/e2e/topo.sh). While a paced bulk transfer runs through the relay,
# the client writes malformed packets as raw frames: each class must be
# dropped and counted (by the front's kernel when it is an IP header error,
# by the engine otherwise), nothing malformed may reach the backend's UDP
# layer, and real traffic keeps working. Then: the front routes nothing it
# was not told to (direct access to the tunnel network, spoofed tunnel
# sources, traffic from the tunnel to arbitrary destinations).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init hostile ip nft python3 ethtool nstat
CONF=$TMP/front.ini
export NSTAT_HISTORY=$TMP/nstat.hist
N=400		# packets per class

e2e_watchdog 240

refuse() {
	local desc=$1; shift
	if "$@" >/dev/null 2>&1; then not_ok "$desc"; else ok "$desc"; fi
}
# stat NAME: one counter of the relay
stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }
# kstat NS NAME: one kernel counter (nstat) in a namespace
kstat() { ip netns exec "$1" nstat -asz 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }
# packets the kernel could not queue to the relay (trl-pub full)
qdrops() { inF cat /sys/class/net/trl-pub/statistics/tx_dropped; }
# backend UDP layer: every datagram it took, good or bad
budp() { echo $(( $(kstat "$NS_B" UdpInDatagrams) + $(kstat "$NS_B" UdpInErrors) + $(kstat "$NS_B" Udp6InDatagrams) + $(kstat "$NS_B" Udp6InErrors) )); }

start() { topo_run DPID "$NS_F" "$CONF" "$TMP/front.log"; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
topo_front_conf "$TMP/ctl.sock" >"$CONF"
start || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up"
FMAC=$(inF cat /sys/class/net/f-eth0/address)
C4=198.51.100.10 P4=198.51.100.1 C6=2001:db8:100::10 P6=2001:db8:100::1

# real traffic throughout: 48 MB paced over about 12 s
ip netns exec "$NS_C" python3 "$CRAFT" send-paced $P4 80 48 12 "$TMP/bulk.ready" \
    >"$TMP/bulk.out" 2>&1 &
BULK=$!
topo_wait 50 test -e "$TMP/bulk.ready" || not_ok "bulk transfer did not start"

# hostile CLASS COUNTER NS WANT: send N packets of CLASS; COUNTER (engine
# counter, or kernel counter of NS) must grow by WANT; a real connection
# must still work afterwards.
hostile() {
	local cls=$1 ctr=$2 ns=$3 want=$4 before after got sent q0 q
	if [ "$ns" = engine ]; then before=$(stat "$ctr"); else before=$(kstat "$ns" "$ctr"); fi
	q0=$(qdrops)
	sent=$(inC python3 "$CRAFT" hostile c-eth0 "$FMAC" "$cls" $C4 $P4 $C6 $P6 $N)
	TOTAL_SENT=$((TOTAL_SENT + ${sent:-0}))
	# until every frame is counted somewhere (a loaded relay may still be
	# reading them), for up to 3 s
	local tries=30
	while :; do
		if [ "$ns" = engine ]; then after=$(stat "$ctr"); else after=$(kstat "$ns" "$ctr"); fi
		got=$((after - before))
		q=$(( $(qdrops) - q0 ))
		[ $((got + q)) -ge "$want" ] && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
		sleep 0.1
	done
	# a packet the kernel could not queue to the relay (a busy machine) is
	# counted there: every packet must be accounted for, somewhere
	local qs=
	[ "$q" -gt 0 ] && qs=", queue drops +$q"
	if [ $((got + q)) -ge "$want" ]; then ok "$cls: $sent frames sent, $ctr +$got$qs"
	else not_ok "$cls: $sent frames sent, $ctr +$got, queue drops +$q (want >= $want)"; fi
	if ! inC python3 "$PEER" tcp-who $P4 80 | grep -q "^peer=$C4 "; then
		not_ok "$cls: a real connection right after it failed"
	fi
}

TOTAL_SENT=0
udp_before=$(budp)
# the front's kernel refuses broken IPv4 headers before routing
hostile k4-ihl IpInHdrErrors "$NS_F" $N
hostile k4-ipcsum IpExtInCsumErrors "$NS_F" $N
hostile k4-totlen IpExtInTruncatedPkts "$NS_F" $N
# IPv6 with two fragment headers: the capture rules match the protocol the
# kernel's flow dissector finds, which stops at the second fragment header;
# not captured, the packet goes to the front's own stack, which refuses it
hostile e6-twofrag Ip6InHdrErrors "$NS_F" $N
# the engine drops the rest, one counter per reason
hostile e4-udplen drop_bad_header engine $N
hostile e4-tcpdoff drop_bad_header engine $N
hostile e4-udpcsum drop_bad_checksum engine $N
hostile e4-syncsum drop_bad_checksum engine $N
hostile e4-fragbig drop_frag engine $N
hostile e4-fragodd drop_frag engine $N
hostile e6-fragodd drop_frag engine $N
hostile e6-udpcsum drop_bad_checksum engine $N
# an ICMP error about no flow of ours is the host's business (not_ours):
# it never reaches the backend
icmp_b=$(kstat "$NS_B" IcmpInDestUnreachs)
hostile e4-icmp-noflow not_ours engine $N
if [ "$(kstat "$NS_B" IcmpInDestUnreachs)" = "$icmp_b" ]; then ok "ICMP errors about no flow: none reached the backend"
else not_ok "ICMP errors about no flow reached the backend"; fi
udp_after=$(budp)
if [ "$udp_after" = "$udp_before" ]; then ok "no malformed datagram reached the backend's UDP layer"
else not_ok "the backend's UDP layer took $((udp_after - udp_before)) malformed datagrams"; fi
# overlapping fragments are relayed like a router would (the engine does
# not reassemble); the backend's reassembly refuses them
hostile o4-overlap IpReasmFails "$NS_B" $N
if [ "$(budp)" = "$udp_after" ]; then ok "overlapping fragments: none reassembled at the backend"
else not_ok "overlapping fragments were reassembled at the backend"; fi

# a forged RST 2^31 away from an established connection's sequence numbers:
# dropped (drop_tcp_rst_window), the flow stays established, data still flows
rst_b=$(stat drop_tcp_rst_window)
inC python3 "$CRAFT" rst-outside c-eth0 "$FMAC" $C4 $P4 80 "$TMP/rst.ready" \
    "$TMP/rst.go" >"$TMP/rst.out" 2>&1 &
RSTP=$!
if topo_wait 100 test -s "$TMP/rst.ready"; then
	lport=$(cat "$TMP/rst.ready")
	if [ "$(stat drop_tcp_rst_window)" -gt "${rst_b:-0}" ]; then ok "out-of-window RST dropped (drop_tcp_rst_window)"
	else not_ok "out-of-window RST not counted as drop_tcp_rst_window"; fi
	if inF "$BIN" flows -c "$CONF" | grep " sport=$lport " | grep -q "^tcp  *established"; then ok "out-of-window RST: flow still established"
	else not_ok "out-of-window RST: flow not established: $(inF "$BIN" flows -c "$CONF" | grep " sport=$lport ")"; fi
else
	not_ok "out-of-window RST: no connection ($(cat "$TMP/rst.out"))"
fi
touch "$TMP/rst.go"
wait "$RSTP"
if grep -q "^ok" "$TMP/rst.out"; then ok "out-of-window RST: data still flows ($(cat "$TMP/rst.out"))"
else not_ok "out-of-window RST: connection broken: $(cat "$TMP/rst.out")"; fi

if wait "$BULK"; then ok "bulk transfer during the attack: $(cat "$TMP/bulk.out")"
else not_ok "bulk transfer during the attack: $(cat "$TMP/bulk.out")"; fi
check_alive() { if kill -0 "$DPID" 2>/dev/null; then ok "$1"; else not_ok "$1"; fi; }
check_alive "relay still running after $TOTAL_SENT malformed packets"

# --- not an open relay -------------------------------------------------------
# the client tries the front as a router into the tunnel network and beyond
inC ip route add 10.22.22.0/24 via $P4
inC ip route add 192.0.2.0/24 via $P4
refuse "client cannot reach the backend's tunnel address directly" \
    timeout 5 ip netns exec "$NS_C" python3 "$PEER" tcp-who 10.22.22.1 80
expect "client still reaches the backend through the public address" "^peer=$C4 " \
    inC python3 "$PEER" tcp-who $P4 80
# spoofed tunnel sources on the public side: blackholed before the engine;
# counted from a quiet moment (the last connection's closing segments done)
for _ in $(seq 20); do
	pp=$(stat packets_public)
	sleep 0.3
	[ "$(stat packets_public)" = "$pp" ] && break
done
udp0=$(budp)
for src in 10.22.22.1 10.22.22.77; do
	inC python3 - "$FMAC" "$src" "$CRAFT" <<'EOF'
import sys
sys.path.insert(0, __import__("os").path.dirname(sys.argv[3]))
import craft
dst_mac, src = sys.argv[1], sys.argv[2]
frames = [craft.ip4(src, "198.51.100.1", 17,
                    craft.udp(src, "198.51.100.1", 5000 + i, 53, b"spoof"))
          for i in range(50)]
craft.send_frames("c-eth0", dst_mac, frames)
EOF
done
sleep 0.3
if [ "$(stat packets_public)" = "$pp" ] && [ "$(budp)" = "$udp0" ]; then
	ok "100 packets from spoofed tunnel sources: dropped before the engine, none at the backend"
else
	not_ok "spoofed tunnel sources: engine saw $(( $(stat packets_public) - pp )), backend took $(( $(budp) - udp0 ))"
fi
expect "the front lists its anti-spoofing rule" 'from 10\.22\.22\.0/24 iif f-eth0 .*blackhole' inF ip rule show

# from the tunnel toward arbitrary destinations: not NATed, not routed
topo_bg "$NS_C" python3 "$PEER" serve-udp $C4 5353
inB ip route add 198.51.100.0/24 via 10.22.22.2
inB ip addr add 10.22.22.9/24 dev b-wg0
topo_wait 50 sh -c "ip netns exec $NS_C ss -Huln | grep -q ':5353'" ||
    not_ok "client UDP listener did not start"
nf=$(stat drop_no_flow)
refuse "backend's address opens nothing toward the client (no flow)" \
    inB python3 "$PEER" udp-line $C4 5353 10.22.22.1
if [ "$(stat drop_no_flow)" -gt "$nf" ]; then ok "... counted as drop_no_flow"; else not_ok "... not counted as drop_no_flow"; fi
refuse "another tunnel address is not routed to the client (other_traffic = drop)" \
    inB python3 "$PEER" udp-line $C4 5353 10.22.22.9
# the same with other_traffic = route: the guard was what stopped it
printf 'other_traffic = route\n' >>"$CONF"
kill -HUP "$DPID"
topo_wait 50 sh -c "grep -q 'reloaded' '$TMP/front.log'"
expect "with other_traffic = route the front routes it (proves the guard above)" '^peer=10\.22\.22\.9$' \
    inB python3 "$PEER" udp-line $C4 5353 10.22.22.9
check_alive "relay still running"

kill -TERM "$DPID"; wait "$DPID"; DPID=
if inF ip rule show | grep -q 'proto 222'; then not_ok "SIGTERM: rules left"; else ok "SIGTERM: no rule left"; fi

if [ "$fail" -gt 0 ]; then echo "--- front log"; cat "$TMP/front.log"; fi
echo "# malformed frames sent: $TOTAL_SENT"
e2e_summary
