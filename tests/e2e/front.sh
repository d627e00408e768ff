#!/bin/bash
# End-to-end test of the front half (keep-client-ip): a client reaches TCP, UDP and
# ICMP services on a backend through tunrelay, and the backend's services see
# the client's real address, IPv4 and IPv6. Topology: tests/e2e/topo.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init e2e ip nft python3 ethtool ping
CONF=$TMP/front.ini

# a test never runs unbounded; the watchdog takes its sleep with it when
# cleanup ends it, so no sleeper outlives the test
e2e_watchdog 300

start() {
	# ip netns exec and env exec the relay: $! is the relay itself
	ip netns exec "$NS_F" env NOTIFY_SOCKET="$TMP/notify.sock" \
	    "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
	DPID=$!
	topo_wait 100 inF "$BIN" stats -c "$CONF"
}
ours() { inF ip rule show | grep -c 'proto 222'; inF ip -6 rule show | grep -c 'proto 222'; }
count_ours() { ours | awk '{s+=$1} END {print s}'; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
topo_front_conf "$TMP/ctl.sock" >"$CONF"
# a stand-in for the service manager: records sd_notify messages
socat -u UNIX-RECV:"$TMP/notify.sock" OPEN:"$TMP/notify.log",creat,append &
TOPO_PIDS+=($!)
topo_wait 50 test -S "$TMP/notify.sock" || { echo "not ok - notify socket"; exit 1; }

check "tunrelay check accepts the config" inF "$BIN" check -c "$CONF"
start || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up"
topo_wait 50 grep -q READY=1 "$TMP/notify.log"
check "sd_notify: READY=1 sent once ready" grep -q READY=1 "$TMP/notify.log"

expect "TCP v4: backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "TCP v6: backend sees the client" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
expect "UDP v4: backend sees the client" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 53
expect "UDP v6: backend sees the client" '^peer=2001:db8:100::10$' inC python3 "$PEER" udp-who 2001:db8:100::1 53
check "ICMP echo through the relay" inC ping -c 2 -W 2 198.51.100.1
expect "ICMP: backend sees the client" 'from 198\.51\.100\.10' cat "$TMP/icmp.log"
expect "port 22 (excluded) reaches the front itself" '^front-ssh$' inC python3 "$PEER" tcp-line 198.51.100.1 22

mss=$(inC python3 "$PEER" tcp-who 198.51.100.1 80 | sed -n 's/.*mss=\([0-9]*\).*/\1/p')
if [ -n "$mss" ] && [ "$mss" -le 1380 ]; then ok "MSS clamped to the tunnel (backend sees mss $mss)"
else not_ok "MSS clamped to the tunnel (backend sees mss '$mss', want <= 1380)"; fi

# path MTU discovery through the relay: a DF packet over the tunnel's 1420
# gets "too big" quoting what the client sent, so the client's kernel learns
expect "ping -M do over the tunnel MTU: frag needed, mtu 1420" 'mtu ?= ?1420' inC ping -M "do" -s 1400 -c 1 -W 2 198.51.100.1
expect "UDP v4 with DF: the client learns path MTU 1420" '^mtu=1420$' inC python3 "$PEER" udp-pmtu 198.51.100.1 53 1450
expect "UDP v6: the client learns path MTU 1420" '^mtu=1420$' inC python3 "$PEER" udp-pmtu 2001:db8:100::1 53 1450
expect "too_big counted" '^too_big [1-9]' inF "$BIN" stats -c "$CONF"
check "40 MB over IPv4 arrive byte-identical" inC python3 "$PEER" tcp-send 198.51.100.1 80 40
check "20 MB over IPv6 arrive byte-identical" inC python3 "$PEER" tcp-send 2001:db8:100::1 80 20

for ns in "$NS_C" "$NS_F" "$NS_B"; do
	ip netns exec "$ns" ip neigh flush all
	ip netns exec "$ns" ip -6 neigh flush all
done
expect "after a neighbour flush: TCP v4" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "after a neighbour flush: TCP v6" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
expect "neighbour entry for the front resolved (ARP answered)" 'lladdr' inC ip neigh show 198.51.100.1

expect "tunrelay flows shows both tuples" 'src=198\.51\.100\.10 dst=198\.51\.100\.1 .* src=10\.22\.22\.1 dst=198\.51\.100\.10 ' inF "$BIN" flows -c "$CONF"
expect "tunrelay stats counts forwarded packets" '^forwarded [1-9]' inF "$BIN" stats -c "$CONF"

# SIGHUP with a new forward: port 8081 reaches the backend's port 80; and
# an exclude of port 65535, which no rule port range can name
topo_bg "$NS_F" python3 "$PEER" serve-tcp 0.0.0.0 65535 front-top
topo_bg "$NS_B" python3 "$PEER" serve-tcp 10.22.22.1 65534 back-top
{ topo_front_conf "$TMP/ctl.sock" | sed 's|^exclude = tcp/22$|exclude = tcp/22, tcp/65535|'; printf '\n[forward.alt]\nproto = tcp\nlisten = 8081\nto = 10.22.22.1:80\n'; } >"$CONF"
kill -HUP "$DPID"
topo_wait 50 inC python3 "$PEER" tcp-who 198.51.100.1 8081
expect "SIGHUP: new forward 8081 -> backend:80 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 8081
expect "excluded port 65535 stays with the front" '^front-top$' inC python3 "$PEER" tcp-line 198.51.100.1 65535
expect "excluded 65535: port 65534 still reaches the backend" '^back-top$' inC python3 "$PEER" tcp-line 198.51.100.1 65534
printf '[front]\npublic_interface = f-eth0\ncontrol_socket = %s\n[forward.top]\nproto = tcp\nlisten = 65535\nto = 10.22.22.1:80\n' "$TMP/top.sock" >"$TMP/top.ini"
expect "check: a forward of port 65535 alone is refused with the reason" 'forward\.top\] listen = 65535: .*cannot be captured' inF "$BIN" check -c "$TMP/top.ini"
expect "SIGHUP: reload counted" '^reloads 1$' inF "$BIN" stats -c "$CONF"

# SIGHUP with a broken file: the old configuration stays
cp "$CONF" "$TMP/good.ini"
printf '\n[front]\nbogus_key = 1\n' >>"$CONF"
kill -HUP "$DPID"
topo_wait 50 sh -c "grep -q 'keeping the running configuration' '$TMP/front.log'"
cp "$TMP/good.ini" "$CONF"
expect "SIGHUP with a broken file: old config kept" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 8081
check "SIGHUP with a broken file: error logged" grep -q 'keeping the running configuration' "$TMP/front.log"

n_before=$(count_ours)
check "relay still running" kill -0 "$DPID"

# a second instance must refuse before touching anything
expect "a second instance refuses to start" 'another tunrelay front runs' timeout 10 ip netns exec "$NS_F" "$BIN" run -c "$CONF"
expect "the first instance still relays" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80

# SIGKILL, then a supervisor-style restart: leftovers reconciled, no duplicates
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
start || not_ok "restart after SIGKILL"
expect "after SIGKILL and restart: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
n_after=$(count_ours)
if [ "$n_before" = "$n_after" ] && [ "$n_after" -gt 0 ]; then ok "no duplicate rules after restart ($n_after)"
else not_ok "no duplicate rules after restart (before $n_before, after $n_after)"; fi

# SIGKILL, then `tunrelay cleanup` (ExecStopPost): nothing of ours left
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check "cleanup after SIGKILL: exit 0" inF "$BIN" cleanup -c "$CONF"
if [ "$(count_ours)" = 0 ]; then ok "cleanup after SIGKILL: no rule left"; else not_ok "cleanup after SIGKILL: rules left"; fi
check "cleanup after SIGKILL: local rule back at priority 0" sh -c "ip netns exec $NS_F ip rule show | grep -q '^0:.*lookup local'"
inF sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0
start || not_ok "start after cleanup"
expect "running: IPv4 forwarding on" '^1$' inF sysctl -n net.ipv4.ip_forward
expect "after cleanup and restart: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80

# SIGTERM: exit 0, nothing of ours left, the local rule back at priority 0
kill -TERM "$DPID"
wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ]; then ok "SIGTERM: exit 0"; else not_ok "SIGTERM: exit $rc"; fi
if [ "$(count_ours)" = 0 ]; then ok "SIGTERM: no rule left"; else not_ok "SIGTERM: rules left: $(inF ip rule show | grep 'proto 222')"; fi
check "SIGTERM: local rule back at priority 0" sh -c "ip netns exec $NS_F ip rule show | grep -q '^0:.*lookup local'"
if inF ip link show | grep -q 'trl-'; then not_ok "SIGTERM: TUN devices removed"; else ok "SIGTERM: TUN devices removed"; fi
if inF ip route show table all | grep -q 'table 733[123]'; then not_ok "SIGTERM: routes removed"; else ok "SIGTERM: routes removed"; fi
check "sd_notify: STOPPING=1 sent on exit" grep -q STOPPING=1 "$TMP/notify.log"
expect "SIGTERM: IPv4 forwarding put back to 0" '^0$' inF sysctl -n net.ipv4.ip_forward
expect "SIGTERM: IPv6 forwarding put back to 0" '^0$' inF sysctl -n net.ipv6.conf.all.forwarding

if [ "$fail" -gt 0 ]; then
	echo "--- front log"
	cat "$TMP/front.log"
fi
e2e_summary
