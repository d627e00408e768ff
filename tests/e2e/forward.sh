#!/bin/bash
# End-to-end tests of [forward.*] with full NAT and of [hairpin]:
# port forward, port forwarding on a single NIC (A:81 -> B:80, B's replies do not
# pass through A, so A also takes the source: B sees A), and hairpin,
# hairpin NAT (LAN clients reach LAN servers through the gateway's public
# address; the servers see the gateway's LAN address, outside clients keep
# their own). Topologies: tests/e2e/topo_fwd.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init fwd ip python3 ethtool
# shellcheck source=tests/e2e/topo_fwd.sh
. "$here/topo_fwd.sh"

DNS=
# a test never runs unbounded (under 3 minutes); the watchdog takes its sleep
# with it when cleanup ends it, so no sleeper keeps our output open
e2e_watchdog 170

# The port a who-answer ("NAME peer=ADDR port=PORT local=PORT") reports.
port_of() { sed -n 's/.* port=\([0-9]*\).*/\1/p' | head -1; }
# Whether a port is in the full-NAT range.
nat_port() { [ -n "$1" ] && [ "$1" -ge 61000 ] && [ "$1" -le 65534 ]; }

# Start the relay in a namespace with a config (the netns exec execs it).
start() {
	DNS=$1 CONF=$2
	ip netns exec "$DNS" "$BIN" run -c "$CONF" >>"$TMP/relay.log" 2>&1 &
	DPID=$!
	topo_wait 100 ip netns exec "$DNS" "$BIN" stats -c "$CONF"
}

# The relay did not answer in time: say so and kill it.
no_start() {
	not_ok "$1 did not come up"
	kill -9 "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}

# SIGTERM the relay (bounded, then SIGKILL); check it left nothing behind.
stop() {
	local what=$1 rc
	kill -TERM "$DPID"
	topo_wait 200 sh -c "! kill -0 $DPID" || kill -9 "$DPID"
	wait "$DPID"; rc=$?; DPID=
	if [ "$rc" = 0 ]; then ok "$what SIGTERM: exit 0"; else not_ok "$what SIGTERM: exit $rc"; fi
	if ip netns exec "$DNS" sh -c 'ip rule show; ip -6 rule show' | grep -q 'proto 222'; then
		not_ok "$what SIGTERM: rules left: $(ip netns exec "$DNS" ip rule show | grep 'proto 222')"
	else
		ok "$what SIGTERM: no rule with proto 222 left"
	fi
	if ip netns exec "$DNS" ip link show | grep -q 'trl-'; then
		not_ok "$what SIGTERM: trl-* devices left"
	else
		ok "$what SIGTERM: no trl-* device left"
	fi
	check "$what SIGTERM: local rule back at priority 0" \
	    sh -c "ip netns exec $DNS ip rule show | grep -q '^0:.*lookup local'"
}

# Print the relay's rules, flows and counters (after a failure).
dump() {
	echo "--- rules"; ip netns exec "$DNS" ip rule show
	echo "--- flows"; ip netns exec "$DNS" "$BIN" flows -c "$CONF"
	echo "--- stats"; ip netns exec "$DNS" "$BIN" stats -c "$CONF"
}

# expect_nat DESC ANSWER NAME PEER: a who-answer from NAME that saw PEER
# from a port of the NAT range.
expect_nat() {
	local desc=$1 ans=$2 name=$3 peer=$4 p
	p=$(printf '%s\n' "$ans" | port_of)
	if printf '%s\n' "$ans" | grep -q "^$name peer=$peer " && nat_port "$p"; then
		ok "$desc"
	else
		not_ok "$desc (wanted '$name peer=$peer port=61000..65534', got: $ans)"
	fi
}

# --- port forward: port forwarding on a single NIC ---------------------------
portfwd() {
	local a ports p n bad sp ns before
	fwd_port_up || { not_ok "port forward: topology"; return; }
	fwd_port_services "$PEER" || { not_ok "port forward: services"; return; }
	fwd_port_conf "$TMP/a.sock" >"$TMP/a.ini"
	expect "port forward: B's default route is not via A" 'default via 192\.0\.2\.254 ' \
	    ip netns exec "$NS_B" ip route show default
	check "port forward: tunrelay check accepts the config" \
	    inA "$BIN" check -c "$TMP/a.ini"
	start "$NS_A" "$TMP/a.ini" || { no_start "port forward: relay"; return; }
	ok "port forward: relay is up"
	before=$fail

	a=$(ip netns exec "$NS_C" python3 "$PEER" tcp-line-from 192.0.2.10 40123 192.0.2.1 81 2>&1)
	expect_nat "port forward: TCP client -> A:81 answered by B:80, B sees A" "$a" B 192.0.2.1
	expect "port forward: TCP answer came from B's port 80" ' local=80$' echo "$a"
	p=$(printf '%s\n' "$a" | port_of)
	expect "port forward: tunrelay flows shows both tuples (client->A:81, B:80->A:$p)" \
	    "src=192\.0\.2\.10 dst=192\.0\.2\.1 sport=40123 dport=81 src=192\.0\.2\.32 dst=192\.0\.2\.1 sport=80 dport=$p " \
	    inA "$BIN" flows -c "$TMP/a.ini"
	a=$(ip netns exec "$NS_C" python3 "$PEER" udp-line 192.0.2.1 81 2>&1)
	expect_nat "port forward: UDP client -> A:81 answered by B:80, B sees A" "$a" B 192.0.2.1

	expect "port forward: range: A:8005 reaches B:9005" '^B peer=192\.0\.2\.1 .* local=9005$' \
	    ip netns exec "$NS_C" python3 "$PEER" tcp-line 192.0.2.1 8005
	expect "port forward: range: A:8000 reaches B:9000" '^B peer=192\.0\.2\.1 .* local=9000$' \
	    ip netns exec "$NS_C" python3 "$PEER" tcp-line 192.0.2.1 8000
	expect "port forward: range: A:8010 reaches B:9010" '^B peer=192\.0\.2\.1 .* local=9010$' \
	    ip netns exec "$NS_C" python3 "$PEER" tcp-line 192.0.2.1 8010
	expect "port forward: range: UDP A:8007 reaches B:9007" '^B peer=192\.0\.2\.1 .* local=9007$' \
	    ip netns exec "$NS_C" python3 "$PEER" udp-line 192.0.2.1 8007

	# five clients, one source port: five mappings, no port overloading
	a=$(ip netns exec "$NS_C" python3 "$PEER" tcp-lines-from 40000 192.0.2.1 81 \
	    192.0.2.11 192.0.2.12 192.0.2.13 192.0.2.14 192.0.2.15 2>&1)
	ports=$(printf '%s\n' "$a" | sed -n 's/^B peer=192\.0\.2\.1 port=\([0-9]*\) .*/\1/p')
	n=$(printf '%s\n' "$ports" | sort -u | grep -c .)
	bad=0
	for p in $ports; do nat_port "$p" || bad=1; done
	if [ "$n" = 5 ] && [ "$bad" = 0 ]; then
		ok "port forward: 5 clients sharing source port 40000 get 5 NAT ports ($(printf "%s" "$ports" | tr "\n" " "))"
	else
		not_ok "port forward: 5 clients sharing source port 40000 get 5 NAT ports (got: $a)"
	fi
	sp=$(ip netns exec "$NS_C" python3 "$PEER" tcp-line-from 192.0.2.10 22 192.0.2.1 81 2>&1)
	expect_nat "port forward: client source port 22 does not become relay port 22" "$sp" B 192.0.2.1

	# ARP for A keeps working with the capture rules in place
	for ns in "$NS_C" "$NS_A" "$NS_B"; do ip netns exec "$ns" ip neigh flush all; done
	a=$(ip netns exec "$NS_C" python3 "$PEER" tcp-line 192.0.2.1 81 2>&1)
	expect_nat "port forward: after a neighbour flush: TCP client -> A:81" "$a" B 192.0.2.1
	expect "port forward: the client reaches B directly, unchanged" '^B peer=192\.0\.2\.10 ' \
	    ip netns exec "$NS_C" python3 "$PEER" tcp-line 192.0.2.32 80

	[ "$fail" = "$before" ] || dump
	stop "port forward:"
}

# --- hairpin: hairpin NAT -------------------------------------------------
hairpin() {
	local a p before
	fwd_hairpin_up || { not_ok "hairpin: topology"; return; }
	fwd_hairpin_services "$PEER" || { not_ok "hairpin: services"; return; }
	fwd_hairpin_conf "$TMP/g.sock" >"$TMP/g.ini"
	check "hairpin: tunrelay check accepts the config" \
	    inG "$BIN" check -c "$TMP/g.ini"
	start "$NS_G" "$TMP/g.ini" || { no_start "hairpin: gateway"; return; }
	ok "hairpin: gateway is up"
	before=$fail

	expect "hairpin: outside -> :80 reaches server 1, which sees the client" \
	    '^srv1 peer=203\.0\.113\.10 ' inO python3 "$PEER" tcp-line 203.0.113.1 80
	expect "hairpin: outside -> :8080 reaches server 2, which sees the client" \
	    '^srv2 peer=203\.0\.113\.10 ' inO python3 "$PEER" tcp-line 203.0.113.1 8080
	expect "hairpin: UDP outside -> :80 reaches server 1, which sees the client" \
	    '^srv1 peer=203\.0\.113\.10 ' inO python3 "$PEER" udp-line 203.0.113.1 80

	a=$(inL python3 "$PEER" tcp-line-from 192.168.50.10 40321 203.0.113.1 80 2>&1)
	expect_nat "hairpin: hairpin: LAN client -> public:80 reaches server 1, which sees the gateway" \
	    "$a" srv1 192.168.50.1
	p=$(printf '%s\n' "$a" | port_of)
	expect "hairpin: tunrelay flows shows the hairpin flow's tuples" \
	    "src=192\.168\.50\.10 dst=203\.0\.113\.1 sport=40321 dport=80 src=192\.168\.50\.32 dst=192\.168\.50\.1 sport=80 dport=$p " \
	    inG "$BIN" flows -c "$TMP/g.ini"
	a=$(inL python3 "$PEER" tcp-line 203.0.113.1 8080 2>&1)
	expect_nat "hairpin: hairpin: LAN client -> public:8080 reaches server 2, no extra setting" \
	    "$a" srv2 192.168.50.1
	a=$(inL python3 "$PEER" udp-line 203.0.113.1 80 2>&1)
	expect_nat "hairpin: hairpin: UDP LAN client -> public:80 reaches server 1" \
	    "$a" srv1 192.168.50.1
	a=$(ip netns exec "$NS_S2" python3 "$PEER" tcp-line 203.0.113.1 80 2>&1)
	expect_nat "hairpin: hairpin: server 2 -> public:80 reaches server 1" \
	    "$a" srv1 192.168.50.1
	a=$(ip netns exec "$NS_S1" python3 "$PEER" tcp-line 203.0.113.1 80 2>&1)
	expect_nat "hairpin: hairpin: server 1 reaches itself through public:80" \
	    "$a" srv1 192.168.50.1
	expect "hairpin: LAN client reaches server 1 directly, unchanged" \
	    '^srv1 peer=192\.168\.50\.10 ' inL python3 "$PEER" tcp-line 192.168.50.32 80

	[ "$fail" = "$before" ] || dump
	stop "hairpin:"
}

portfwd
hairpin

if [ "$fail" -gt 0 ]; then
	echo "--- relay log"
	cat "$TMP/relay.log"
fi
e2e_summary
