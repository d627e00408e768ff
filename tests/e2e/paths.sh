#!/bin/bash
# End-to-end tests of the paths beyond the front, in
# the router topology of topo_path.sh: client - front - r1 - (MTU 1280) -
# r2 - target. IPv4 and IPv6 fragments on forwarded ports in both directions
# and both source modes, in order and reversed; ICMP errors from routers on
# the inside (path MTU discovery, TTL expiry) and from the client's side;
# ICMPv6 echo relayed to a backend while neighbour discovery stays with the
# host (caches flushed during traffic); nothing of ours left at exit.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init paths ip python3 ethtool ping
# shellcheck source=tests/e2e/topo_path.sh
. "$here/topo_path.sh"

CONF=$TMP/front.ini
e2e_watchdog 400

P4=198.51.100.1
P6=2001:db8:100::1

# The forwards of phase 1: 7000 keep-source, 7001 full NAT, both to the
# target's kernel echo (7000); 7002 and 7003 the same to the target's raw
# echo (7002), which answers with fragments last first.
forwards() {
	local fam to
	for fam in 4 6; do
		if [ "$fam" = 4 ]; then to=10.32.0.10; else to="[fd32::10]"; fi
		printf '[forward.k%s]\nproto = tcp,udp\nlisten = 7000\nto = %s:7000\n\n' "$fam" "$to"
		printf '[forward.r%s]\nproto = tcp,udp\nlisten = 7001\nto = %s:7000\nsource = relay\n\n' "$fam" "$to"
		printf '[forward.kraw%s]\nproto = udp\nlisten = 7002\nto = %s:7002\n\n' "$fam" "$to"
		printf '[forward.rraw%s]\nproto = udp\nlisten = 7003\nto = %s:7002\nsource = relay\n\n' "$fam" "$to"
	done
}

# The [front] section; $1 = extra keys.
front_conf() {
	printf '[front]\npublic_interface = f-eth0\ntunnel_interface = f-in0\n'
	printf 'mss_clamp = off\nstate_file = off\ncontrol_socket = %s\n%s\n\n' "$TMP/ctl.sock" "$1"
}

start() { topo_run DPID "$NS_F" "$CONF" "$TMP/front.log"; }

# SIGTERM (bounded); exit 0 and nothing of ours left.
stop() {
	local what=$1 rc
	kill -TERM "$DPID"
	topo_wait 200 sh -c "! kill -0 $DPID" || kill -9 "$DPID"
	wait "$DPID"; rc=$?; DPID=
	if [ "$rc" = 0 ]; then ok "$what: SIGTERM exit 0"; else not_ok "$what: SIGTERM exit $rc"; fi
	if inF sh -c 'ip rule show; ip -6 rule show' | grep -q 'proto 222'; then
		not_ok "$what: rules left: $(inF ip rule show | grep 'proto 222')"
	else
		ok "$what: no rule with proto 222 left"
	fi
	expect "$what: no proxy neighbour entry left" '^none$' \
	    sh -c "ip netns exec $NS_F ip -6 neigh show proxy | grep -c . | sed 's/^0$/none/'"
	expect "$what: proxy_ndp put back to 0" '^0$' inF sysctl -n net.ipv6.conf.all.proxy_ndp
	check "$what: local rule back at priority 0" \
	    sh -c "ip netns exec $NS_F ip rule show | grep -q '^0:.*lookup local'"
}

dump() {
	echo "--- rules"; inF ip rule show; inF ip -6 rule show
	echo "--- proxies"; inF ip -6 neigh show proxy
	echo "--- flows"; inF "$BIN" flows -c "$CONF"
	echo "--- stats"; inF "$BIN" stats -c "$CONF"
	echo "--- log"; tail -40 "$TMP/front.log"
}

mac() { ip netns exec "$1" cat "/sys/class/net/$2/address"; }

path_up || { not_ok "router topology"; exit 1; }
ok "router topology: client - front - r1 - (1280) - r2 - target"
FMAC=$(mac "$NS_F" f-eth0)
R2MAC=$(mac "$NS_R2" r2-t)
for a in 10.32.0.10 fd32::10; do
	topo_bg "$NS_T" python3 "$PEER" serve-echo "$a" 7000
	topo_bg "$NS_T" python3 "$PEER" serve-tcp "$a" 7000
	topo_bg "$NS_T" python3 "$CRAFT" serve-frag-echo t-eth0 "$R2MAC" "$a" 7002 rev
done
topo_wait 50 inF python3 "$PEER" udp-echo 10.32.0.10 7000 10
check "control: the front reaches the target's echo directly" \
    inF python3 "$PEER" udp-echo 10.32.0.10 7000 4000
check "control: the front reaches the target's echo directly (v6)" \
    inF python3 "$PEER" udp-echo fd32::10 7000 1000

# --- phase 1: forwards only (no backend catch-all) -------------------------
{ front_conf ""; forwards; } >"$CONF"
check "phase 1: tunrelay check accepts the config" inF "$BIN" check -c "$CONF"
start || { not_ok "phase 1: relay did not come up"; cat "$TMP/front.log"; exit 1; }
ok "phase 1: relay is up"
expect "phase 1: proxy_ndp on (IPv6 forwards)" '^1$' inF sysctl -n net.ipv6.conf.all.proxy_ndp
expect "phase 1: a proxy entry for the public IPv6 address" "^$P6 dev f-eth0 " \
    inF ip -6 neigh show proxy
expect "phase 1: a proxy entry for the relay's IPv6 address" "^fd30::1 dev f-in0 " \
    inF ip -6 neigh show proxy
before=$fail

# Errors from a router between the client and the front, about packets the
# relay sent to the client (from P:7000 or P:7001): they go to the public
# address and must reach the target, which learns the path MTU (1400 here,
# distinct from the 1280 of the inside link). A flow first.
for fam in 4 6; do
	if [ "$fam" = 4 ]; then c=198.51.100.10 p=$P4 r=198.51.100.254
	else c=2001:db8:100::10 p=$P6 r=2001:db8:100::fe; fi
	check "v$fam: keep-source flow for the client-side error" \
	    inC python3 "$PEER" udp-echo "$p" 7000 100 "$c" 41000
	check "v$fam: full-NAT flow for the client-side error" \
	    inC python3 "$PEER" udp-echo "$p" 7001 100 "$c" 41001
	inC python3 "$CRAFT" icmp-error c-eth0 "$FMAC" "$r" "$p" 1400 "$p" 7000 "$c" 41000 >/dev/null
	inC python3 "$CRAFT" icmp-error c-eth0 "$FMAC" "$r" "$p" 1400 "$p" 7001 "$c" 41001 >/dev/null
done
sleep 0.5
expect "v4: error from a client-side router reaches the target (keep): PMTU 1400 to the client" \
    'mtu 1400' inT ip route get 198.51.100.10
expect "v4: error from a client-side router reaches the target (full NAT): PMTU 1400 to the relay" \
    'mtu 1400' inT ip route get 10.30.0.1
expect "v6: packet too big from a client-side router reaches the target (keep)" \
    'mtu 1400' inT ip -6 route get 2001:db8:100::10
expect "v6: packet too big from a client-side router reaches the target (full NAT)" \
    'mtu 1400' inT ip -6 route get fd30::1

# Fragments, client to target and back: the client sends raw fragments in
# order and reversed; the target's kernel answers with fragments in order
# (port 7000/7001) or the raw echo answers last first (7002/7003).
for fam in 4 6; do
	if [ "$fam" = 4 ]; then c=198.51.100.10 p=$P4; else c=2001:db8:100::10 p=$P6; fi
	sp=42000
	for port in 7000 7001; do
		for order in fwd rev; do
			sp=$((sp + 1))
			expect "v$fam frag: 4000 bytes to :$port, fragments $order, echo in order" \
			    '^echoed 4000 of 4000 bytes \([0-9]+ fragments sent' \
			    inC python3 "$CRAFT" frag-echo c-eth0 "$FMAC" "$c" "$p" "$sp" "$port" 4000 "$order"
		done
	done
	for port in 7002 7003; do
		sp=$((sp + 1))
		expect "v$fam frag: 4000 bytes to :$port, reply fragments reversed" \
		    '^echoed 4000 of 4000 bytes' \
		    inC python3 "$CRAFT" frag-echo c-eth0 "$FMAC" "$c" "$p" "$sp" "$port" 4000 fwd
	done
	for port in 7000 7001; do
		f0=$fail
		expect "v$fam frag: the client's kernel fragments 9000 bytes to :$port" \
		    '^echoed 9000 of 9000 bytes$' inC python3 "$PEER" udp-echo "$p" "$port" 9000
		[ "$fail" = "$f0" ] || { inC ip route get "$p"; inT ip route get "$c"; }
	done
done
expect "frag: early fragments were queued until their first (stats)" '^frags_queued [1-9]' inF "$BIN" stats -c "$CONF"

# Path MTU discovery on the inside: a DF upload over the 1280 link (MSS
# 1460 from the target) gets "fragmentation needed" from r1, which must
# reach the client through the relay, in both source modes.
for fam in 4 6; do
	if [ "$fam" = 4 ]; then p=$P4; else p=$P6; fi
	check "v$fam PMTUD: 2 MB upload through :7000 (keep) over the 1280 link" \
	    timeout 60 ip netns exec "$NS_C" python3 "$PEER" tcp-send "$p" 7000 2
	check "v$fam PMTUD: 2 MB upload through :7001 (full NAT) over the 1280 link" \
	    timeout 60 ip netns exec "$NS_C" python3 "$PEER" tcp-send "$p" 7001 2
done
expect "v4 PMTUD: the client learned 1280 toward the front" 'mtu 1280' inC ip route get "$P4"

# TTL expiry beyond the front (traceroute): hop 1 is the front itself, hop 2
# r1, hop 3 r2, hop 4 the target (the front counts once, as a router). The
# errors of r1 and r2 come translated: their outer source is the public
# address (docs/engine.md), so icmp_translated tells them from the front's own.
translated() { inF "$BIN" stats -c "$CONF" | sed -n 's/^icmp_translated //p'; }
# hop DESC PATTERN DELTA PORT TTL: a probe's answer and icmp_translated's growth
hop() {
	local desc=$1 pat=$2 want=$3 a b out; shift 3
	a=$(translated)
	out=$(inC python3 "$PEER" ttl-probe "$@" 2>&1)
	b=$(translated)
	if printf '%s\n' "$out" | grep -Eq -- "$pat" && [ $((b - a)) = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc (wanted /$pat/ and $want translated, got: $out, $((b - a)))"
	fi
}
for fam in 4 6; do
	if [ "$fam" = 4 ]; then p=$P4 t=11; else p=$P6 t=3; fi
	for port in 7000 7001; do
		hop "v$fam traceroute :$port: hop 1 is the front (its own time exceeded)" \
		    "^icmp type=$t code=0 from=$p\$" 0 "$p" "$port" 1
		hop "v$fam traceroute :$port: hop 2 is r1 (time exceeded, translated)" \
		    "^icmp type=$t code=0 from=$p\$" 1 "$p" "$port" 2
		hop "v$fam traceroute :$port: hop 3 is r2 (time exceeded, translated)" \
		    "^icmp type=$t code=0 from=$p\$" 1 "$p" "$port" 3
		hop "v$fam traceroute :$port: hop 4 is the target" '^reply$' 0 "$p" "$port" 4
	done
done

# The host keeps its own ICMP: the front pings r2 and the target itself
expect "the front's own ping beyond r1 works (v4)" ' 0% packet loss' inF ping -c 2 -i 0.3 -W 2 10.32.0.10
expect "the front's own ping beyond r1 works (v6)" ' 0% packet loss' inF ping -6 -c 2 -i 0.3 -W 2 fd32::10
# ... and its own fragmented datagrams: the target's answers to the relay
# address come in fragments, which the capture takes (full NAT), the engine
# leaves alone and the loop hands back to the host
check "the front's own 9000-byte UDP echo with the target (v4, fragments to the relay address)" \
    inF python3 "$PEER" udp-echo 10.32.0.10 7000 9000
check "the front's own 9000-byte UDP echo with the target (v6, fragments to the relay address)" \
    inF python3 "$PEER" udp-echo fd32::10 7000 9000
expect "the client's ping to the public address: answered by the front (no backend)" \
    'ttl=64' inC ping -c 1 -W 2 "$P4"
expect "the client's IPv6 ping to the public address: answered by the front (no backend)" \
    'ttl=64' inC ping -6 -c 1 -W 2 "$P6"
[ "$fail" = "$before" ] || dump
stop "phase 1"

# --- phase 2: a backend catch-all beyond the routers ------------------------
{ front_conf "backend = 10.32.0.10, fd32::10
exclude = tcp/22"; } >"$CONF"
# what the client learned in phase 1 would hide the errors of phase 2; and
# the front's own path MTU of 1280 toward fd32::10 (its own 9000-byte echo):
# the IPv6 forwarding path of this kernel honours it, so the front's kernel
# would answer a relayed 1348-byte packet itself, with a "packet too big"
# quoting the translated packet, which the client cannot match
# (docs/how-it-works.md, known limits)
for ns in "$NS_C" "$NS_F"; do
	ip netns exec "$ns" ip route flush cache
	ip netns exec "$ns" ip -6 route flush cache
done
start || { not_ok "phase 2: relay did not come up"; cat "$TMP/front.log"; exit 1; }
ok "phase 2: relay is up"
before=$fail
expect "v4 ping to the public address reaches the target (ttl 61)" 'ttl=61' \
    inC ping -c 1 -W 2 "$P4"
expect "v6 ping to the public address reaches the target (hop limit 61)" 'ttl=61' \
    inC ping -6 -c 1 -W 2 "$P6"
expect "v4 ping -M do -s 1300: frag needed from r1, mtu 1280" "^From $P4 .*mtu = 1280" \
    inC ping -M "do" -s 1300 -c 1 -W 2 "$P4"
expect "v6 ping -M do -s 1300: packet too big from r1, mtu 1280" "^From $P6 .*mtu=1280" \
    inC ping -6 -M "do" -s 1300 -c 1 -W 2 "$P6"
expect "v4 ping -t 2: time exceeded from r1 (translated)" "^From $P4 .*Time to live exceeded" \
    inC ping -t 2 -c 1 -W 2 "$P4"
expect "v6 ping -t 2: time exceeded from r1 (translated)" "^From $P6 .*Time exceeded" \
    inC ping -6 -t 2 -c 1 -W 2 "$P6"
check "v4 backend: 9000 bytes of UDP fragments echoed" inC python3 "$PEER" udp-echo "$P4" 7000 9000
check "v6 backend: 9000 bytes of UDP fragments echoed" inC python3 "$PEER" udp-echo "$P6" 7000 9000

# Neighbour discovery stays with the host: short reachable times make the
# client and the front probe each other by unicast (the solicitations to
# the front's address match the ICMPv6 capture; the proxy entry hands them
# to the host), caches flushed every few packets; every ping answered.
for ns in "$NS_C" "$NS_F"; do
	for d in c-eth0 f-eth0; do
		ip netns exec "$ns" sysctl -qw "net.ipv6.neigh.$d.base_reachable_time_ms=300" \
		    "net.ipv6.neigh.$d.delay_first_probe_time=1" \
		    "net.ipv4.neigh.$d.base_reachable_time_ms=300" 2>/dev/null
	done
done
lost=0
for i in $(seq 1 16); do
	if [ $((i % 4)) = 0 ]; then
		for ns in "$NS_C" "$NS_F"; do
			ip netns exec "$ns" ip neigh flush all
			ip netns exec "$ns" ip -6 neigh flush all
		done
	fi
	inC ping -6 -c 1 -W 3 "$P6" >/dev/null 2>&1 || lost=$((lost + 1))
	inC ping -c 1 -W 3 "$P4" >/dev/null 2>&1 || lost=$((lost + 1))
	sleep 0.7
done
if [ "$lost" = 0 ]; then ok "ND: 32 pings over 11 s with flushes and unicast probes, none lost"
else not_ok "ND: $lost of 32 pings lost with neighbour flushes"; fi
expect "ND: the client resolved the front's IPv6 address" 'lladdr' inC ip -6 neigh show "$P6"
expect "ND: the front resolved the client's IPv6 address" 'lladdr' inF ip -6 neigh show 2001:db8:100::10
expect "ND: the front answers unicast solicitations (Ip6InReceives counts them at the host)" \
    '^Icmp6InNeighborSolicits +[1-9]' inF nstat -az Icmp6InNeighborSolicits
[ "$fail" = "$before" ] || dump

# a killed instance's proxy entries are reconciled by the next start and
# removed by cleanup
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
start || not_ok "phase 2: restart after SIGKILL"
expect "after SIGKILL and restart: one proxy entry for the public address" '^1$' \
    sh -c "ip netns exec $NS_F ip -6 neigh show proxy | grep -c '^$P6 '"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check "cleanup after SIGKILL: exit 0" inF "$BIN" cleanup -c "$CONF"
expect "cleanup after SIGKILL: no proxy entry left" '^0$' \
    sh -c "ip netns exec $NS_F ip -6 neigh show proxy | grep -c ."
# a killed instance cannot put its sysctls back (as with forwarding)
inF sysctl -qw net.ipv6.conf.all.proxy_ndp=0
start || not_ok "phase 2: start after cleanup"
stop "phase 2"

[ "$fail" = 0 ] || { echo "--- front log"; tail -60 "$TMP/front.log"; }
e2e_summary
