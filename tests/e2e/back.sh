#!/bin/bash
# End-to-end test of the back half: tunrelay on both sides of the keep-client-ip relay, no
# iptables/nft command issued by the test for the relay (one DNAT rule stands
# in for a container runtime's published port). The backend's services see
# the client's real address and their replies go back through the tunnel,
# with mark = source (also with nftables denied) and mark = connmark
# (including UDP services bound to 0.0.0.0 and ::, and a service in a
# namespace behind the backend reached through a forwarded port, its SYN-ACK
# MSS clamped); link flaps and deleted rules are repaired; one back per
# namespace; SIGTERM leaves nothing, SIGKILL + restart reconciles, SIGKILL +
# cleanup removes everything. Topology: tests/e2e/topo.sh (the backend's
# default route is a black hole: a reply taking the wrong path is lost).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init back ip nft python3 ethtool ping
DENY=${top_builddir:-$here/../..}/tests/e2e/deny
e2e_built "$DENY"

FCONF=$TMP/front.ini
BCONF=$TMP/back.ini
NS_S=tr-s-$TOPO_ID	# a service behind the backend (a container stand-in)
e2e_watchdog 600

back_conf() {
	cat <<EOF
[back]
tunnel_interface = b-wg0
front = 10.22.22.2, fd22::2
mark = $1
control_socket = $TMP/back.sock
${2:-}
EOF
}

ours() { { inB ip rule show; inB ip -6 rule show; } | grep -c 'proto 222'; }
table_routes() { { inB ip route show table 7341; inB ip -6 route show table 7341; } | grep -c .; }
has_table() { inB nft list tables | grep -q tunrelay_back; }
defaults_back() { [ "$(inB ip route show table 7341 | grep -c '^default')" = 1 ] &&
	[ "$(inB ip -6 route show table 7341 | grep -c '^default')" = 1 ]; }

# Client traffic of every kind; $1 names the mode.
traffic() {
	local m=$1
	: >"$TMP/icmp.log"
	expect "$m: TCP v4: backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$m: TCP v6: backend sees the client" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
	expect "$m: UDP v4: backend sees the client" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 53
	expect "$m: UDP v6: backend sees the client" '^peer=2001:db8:100::10$' inC python3 "$PEER" udp-who 2001:db8:100::1 53
	check "$m: ICMP echo through both halves" inC ping -c 2 -W 2 198.51.100.1
	expect "$m: ICMP: backend sees the client" 'from 198\.51\.100\.10' cat "$TMP/icmp.log"
}

# Nothing of ours is left in the backend.
left_nothing() {
	local m=$1
	if [ "$(ours)" = 0 ]; then ok "$m: no proto 222 rule left"; else not_ok "$m: rules left: $(inB ip rule show | grep 'proto 222')"; fi
	if [ "$(table_routes)" = 0 ]; then ok "$m: table 7341 empty"; else not_ok "$m: routes left in table 7341"; fi
	if has_table; then not_ok "$m: nft table inet tunrelay_back left"; else ok "$m: no nft table of ours"; fi
}

# A namespace behind the backend with TCP/UDP services, published on the
# backend's ports 8080/8053 by DNAT as a container runtime would.
service_up() {
	topo_ns "$NS_S" || return 1
	ip link add b-svc0 netns "$NS_B" type veth peer name s-eth0 netns "$NS_S"
	ip -n "$NS_S" addr add 10.40.0.2/24 dev s-eth0
	ip -n "$NS_S" -6 addr add fd40::2/64 dev s-eth0 nodad
	ip -n "$NS_S" link set s-eth0 up
	ip -n "$NS_S" route add default via 10.40.0.1
	ip -n "$NS_S" -6 route add default via fd40::1
	inB ip addr add 10.40.0.1/24 dev b-svc0
	inB ip -6 addr add fd40::1/64 dev b-svc0 nodad
	inB ip link set b-svc0 up
	inB ethtool -K b-svc0 tx off >/dev/null
	ip netns exec "$NS_S" ethtool -K s-eth0 tx off >/dev/null
	inB sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	inB nft -f - <<'EOF' || return 1
table inet publish {
	chain pre {
		type nat hook prerouting priority dstnat;
		meta nfproto ipv4 tcp dport 8080 dnat ip to 10.40.0.2:80
		meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd40::2]:80
		meta nfproto ipv4 udp dport 8053 dnat ip to 10.40.0.2:53
	}
}
EOF
	topo_bg "$NS_S" python3 "$PEER" serve-tcp 10.40.0.2 80
	topo_bg "$NS_S" python3 "$PEER" serve-tcp fd40::2 80
	topo_bg "$NS_S" python3 "$PEER" serve-udp 0.0.0.0 53
}

topo_up || { echo "not ok - topology"; exit 1; }
service_up || { echo "not ok - service namespace"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
# UDP services bound to the wildcard, answering without IP_PKTINFO (BRIEF 4)
topo_bg "$NS_B" python3 "$PEER" serve-udp 0.0.0.0 5353
topo_bg "$NS_B" python3 "$PEER" serve-udp :: 5354
# a UDP server on the wildcard that talks first and most (a game server)
topo_bg "$NS_B" python3 "$BULK" udp-serve-stream 0.0.0.0 5355
topo_front_conf "$TMP/ctl.sock" >"$FCONF"
topo_start_front || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }

# --- mark = source
back_conf source >"$BCONF"
expect "check: source mode names the UDP 0.0.0.0 limitation" 'IP_PKTINFO' inB "$BIN" check -c "$BCONF"
check "check: accepts the source config" inB "$BIN" check -c "$BCONF"
inB ip rule add priority 1200 from 10.22.22.1 lookup 100
expect "check: names a foreign rule before ours and its removal" 'rule "1200: from 10\.22\.22\.1 lookup 100.*ip rule del priority 1200' inB "$BIN" check -c "$BCONF"
inB ip rule del priority 1200
inB sysctl -qw net.ipv4.conf.b-wg0.rp_filter=1
topo_start_back || { not_ok "back (source) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (source) is up"
traffic source
expect "source: rule from the tunnel address" 'from 10\.22\.22\.1 lookup 7341 proto 222' inB ip rule show
expect "source: default via the front in table 7341" 'default via 10\.22\.22\.2 dev b-wg0' inB ip route show table 7341
expect "source: rp_filter of b-wg0 is loose or off" '^[02]$' inB sysctl -n net.ipv4.conf.b-wg0.rp_filter
if has_table; then not_ok "source: no nftables table"; else ok "source: no nftables table"; fi
topo_stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "source: SIGTERM: exit 0"; else not_ok "source: SIGTERM: exit $rc"; fi
left_nothing "source: SIGTERM"
expect "source: SIGTERM: rp_filter of b-wg0 put back to 1" '^1$' inB sysctl -n net.ipv4.conf.b-wg0.rp_filter
inB sysctl -qw net.ipv4.conf.b-wg0.rp_filter=0

# --- nftables denied (seccomp: socket(AF_NETLINK, NETLINK_NETFILTER) fails)
TOPO_WRAP=("$DENY" nft)
back_conf auto >"$BCONF"
expect "no nftables: check says auto will use source" 'will use source' inB "$DENY" nft "$BIN" check -c "$BCONF"
topo_start_back || { not_ok "back (auto, no nftables) did not come up"; cat "$TMP/back.log"; exit 1; }
check "no nftables: auto chose source and said why" grep -q 'mark = auto: nftables is not usable (.*): using source-address rules' "$TMP/back.log"
expect "no nftables: TCP v4 to a service on the tunnel address" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "no nftables: TCP v6 to a service on the tunnel address" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
expect "no nftables: UDP v4 to a service on the tunnel address" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 53
if has_table; then not_ok "no nftables: no nftables table"; else ok "no nftables: no nftables table"; fi
topo_stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "no nftables: SIGTERM: exit 0"; else not_ok "no nftables: SIGTERM: exit $rc"; fi
left_nothing "no nftables: SIGTERM"
back_conf connmark >"$BCONF"
expect "no nftables: check refuses connmark with the fix" 'mark = connmark needs nftables.*fix:' inB "$DENY" nft "$BIN" check -c "$BCONF"
timeout 10 ip netns exec "$NS_B" "$DENY" nft "$BIN" run -c "$BCONF" >"$TMP/nonft.log" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'nftables' "$TMP/nonft.log"; then ok "no nftables: connmark refuses to start ($rc) and says why"; else not_ok "no nftables: connmark run: exit $rc: $(cat "$TMP/nonft.log")"; fi
left_nothing "no nftables: failed connmark start"
TOPO_WRAP=()

# --- mark = auto picks connmark here (nftables works)
back_conf auto >"$BCONF"
topo_start_back || { not_ok "back (auto) did not come up"; cat "$TMP/back.log"; exit 1; }
check "auto: chose connmark and said why" grep -q 'mark = auto: nftables is usable: using connmark' "$TMP/back.log"
topo_stop_back

# --- mark = connmark (MSS fixed low enough to tell the back's clamp from the front's)
back_conf connmark "mss_clamp = 1200" >"$BCONF"
check "check: accepts the connmark config" inB "$BIN" check -c "$BCONF"
topo_start_back || { not_ok "back (connmark) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (connmark) is up"
check "connmark: nftables table inet tunrelay_back exists" has_table
traffic connmark
expect "connmark: UDP v4 service on 0.0.0.0 answers through the tunnel" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
expect "connmark: UDP v6 service on :: answers through the tunnel" '^peer=2001:db8:100::10$' inC python3 "$PEER" udp-who 2001:db8:100::1 5354
expect "connmark: fwmark rule" 'fwmark 0x7e1 lookup 7341 proto 222' inB ip rule show
n_before=$(ours)

# one back per namespace; cleanup refuses while it runs
timeout 10 ip netns exec "$NS_B" "$BIN" run -c "$BCONF" >"$TMP/second.log" 2>&1
expect "a second back in the namespace is refused" 'another tunrelay back runs' cat "$TMP/second.log"
expect "cleanup refuses while the back runs" 'tunrelay back is running' inB "$BIN" cleanup -c "$BCONF"
if [ "$(ours)" = "$n_before" ] && has_table; then ok "refused cleanup changed nothing"; else not_ok "refused cleanup changed something"; fi

# a service behind the backend, reached through a forwarded port: its
# replies are forwarded, not local, and still go back through the tunnel
expect "connmark: forwarded TCP v4 service sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 8080
expect "connmark: forwarded TCP v6 service sees the client" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 8080
expect "connmark: forwarded UDP service on 0.0.0.0 sees the client" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 8053
mss=$(inC python3 "$PEER" tcp-mss 198.51.100.1 8080 2>&1 | sed -n 's/^mss=//p')
if [ -n "$mss" ] && [ "$mss" -le 1200 ]; then ok "connmark: the forwarded service's SYN-ACK MSS is clamped (client uses $mss)"; else not_ok "connmark: SYN-ACK MSS not clamped to 1200 (client uses ${mss:-nothing})"; fi

# tunnel down and up: routes flushed by the kernel come back (the address
# stays, as with most tunnel managers; without it IPv6 waits for a new one)
inB sysctl -qw net.ipv6.conf.b-wg0.keep_addr_on_down=1
inB ip link set b-wg0 down
sleep 0.3
inB ip link set b-wg0 up
if topo_wait 20 defaults_back; then ok "link flap: routes restored within 2 s"; else not_ok "link flap: routes restored within 2 s"; fi
expect "link flap: TCP v4 works again" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "link flap: TCP v6 works again" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
check "link flap: restoring was logged" grep -q 'restored' "$TMP/back.log"
if [ "$(ours)" = "$n_before" ]; then ok "link flap: no duplicate rules ($n_before)"; else not_ok "link flap: rules $n_before -> $(ours)"; fi

# an operator deletes our rule: it comes back
inB ip rule del priority 1400
if topo_wait 20 sh -c "ip netns exec $NS_B ip rule show | grep -q '^1400:'"; then ok "deleted rule restored within 2 s"; else not_ok "deleted rule restored within 2 s"; fi
# ... or our route, or our nftables table
inB ip route del default table 7341
if topo_wait 20 defaults_back; then ok "deleted route restored within 2 s"; else not_ok "deleted route restored within 2 s"; fi
inB nft delete table inet tunrelay_back
if topo_wait 20 has_table; then ok "deleted nft table restored within 2 s"; else not_ok "deleted nft table restored within 2 s"; fi
expect "after the repairs: UDP on 0.0.0.0 works" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353

# SIGKILL, then a restart: leftovers reconciled, no duplicates
kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
topo_start_back || not_ok "restart after SIGKILL"
expect "after SIGKILL and restart: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "after SIGKILL and restart: UDP on 0.0.0.0 works" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
if [ "$(ours)" = "$n_before" ]; then ok "after restart: no duplicate rules ($n_before)"; else not_ok "after restart: rules $n_before -> $(ours)"; fi
if [ "$(inB nft list tables | grep -c tunrelay_back)" = 1 ]; then ok "after restart: one nft table"; else not_ok "after restart: one nft table"; fi

# stream_through WHAT CMD...: a UDP stream from the wildcard server (300
# datagrams a second for 5 s, the client silent after asking) while CMD runs
# 1.5 s in; none may be lost: the learned reply path must survive
stream_through() {
	local what=$1 out=$TMP/stream.out t; shift
	rm -f "$TMP/sready"
	ip netns exec "$NS_C" python3 "$BULK" udp-get-stream 198.51.100.1 5355 1500 300 "$TMP/sready" >"$out" 2>&1 &
	t=$!
	topo_wait 50 test -e "$TMP/sready"
	sleep 1.5
	"$@"
	if wait "$t"; then ok "UDP on 0.0.0.0, server talking: $what loses nothing ($(cat "$out"))"
	else not_ok "UDP on 0.0.0.0, server talking: $what: $(cat "$out")"; fi
}
reload_back() {
	local n
	n=$(grep -c 'reloaded' "$TMP/back.log")
	kill -HUP "$BPID"
	topo_wait 50 sh -c "[ \$(grep -c 'reloaded' '$TMP/back.log') -gt $n ]"
}
stream_through "a reload of the back" reload_back
stream_through "tunrelay restart of the back" ip netns exec "$NS_B" timeout 40 "$BIN" restart -c "$BCONF"

# SIGHUP: connmark -> source (table gone, source rules) -> connmark again
back_conf source >"$BCONF"
reload_back
expect "SIGHUP to source: rule from the tunnel address" 'from 10\.22\.22\.1 lookup 7341' inB ip rule show
if has_table; then not_ok "SIGHUP to source: nft table removed"; else ok "SIGHUP to source: nft table removed"; fi
expect "SIGHUP to source: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
printf '[back]\nbogus = 1\n' >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 grep -q 'keeping the running configuration' "$TMP/back.log"
check "SIGHUP with a broken file: old config kept" sh -c "ip netns exec $NS_B ip rule show | grep -q 'from 10.22.22.1 lookup 7341'"
back_conf connmark >"$BCONF"
reload_back
check "SIGHUP back to connmark: nft table again" has_table
expect "SIGHUP back to connmark: UDP on 0.0.0.0 works" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
if [ "$(ours)" = "$n_before" ]; then ok "after reloads: rules as before ($n_before)"; else not_ok "after reloads: rules $n_before -> $(ours)"; fi

topo_stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "connmark: SIGTERM: exit 0"; else not_ok "connmark: SIGTERM: exit $rc"; fi
left_nothing "connmark: SIGTERM"

# SIGKILL leaves everything in place; cleanup removes it
topo_start_back || not_ok "connmark: start before SIGKILL"
kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
if [ "$(ours)" -gt 0 ] && has_table; then ok "SIGKILL left rules and table"; else not_ok "SIGKILL left rules and table"; fi
check "cleanup after SIGKILL: exit 0" inB "$BIN" cleanup -c "$BCONF"
left_nothing "cleanup after SIGKILL"

if [ "$fail" -gt 0 ]; then
	echo "--- back log"
	cat "$TMP/back.log"
fi
e2e_summary
