#!/bin/bash
# End-to-end test of many fronts, one back: two fronts announce the same
# public address (anycast, as two relays behind an ECMP route would), each
# with its own tunnel to one backend whose [back] names both tunnels
# ([back] and [back.b]). Clients behind each front reach the backend's
# services; every service sees the client's own address, and every reply
# returns through the front it came through (the backend's default route is
# a black hole, and each front's LAN holds only its own client), in mark =
# source and mark = connmark: TCP and UDP, v4 and v6, UDP services bound to
# 0.0.0.0 and :: (connmark), one client address through both fronts, each
# to its own tunnel's address (source), and one client address reaching one
# shared service address through both fronts (connmark). Tunnel B taken
# down and up leaves front A's flows alone. Then, in both modes, front
# A is killed (SIGKILL) in the middle of paced downloads and uploads through
# both fronts and its tunnel deleted: the transfers through front B finish
# byte-identical; the back leaves out tunnel A alone, says so in status, and
# restores tunnel A's table, rules and routes when the tunnel is made again.
# Config edits while paced transfers run through both fronts: a section
# inserted before [back.b] (reload), another edit across tunrelay restart,
# [back] renamed and a section put first across SIGKILL and a new start:
# every tunnel keeps its table and mark, the transfers finish byte-identical.
#
#   client A                  front A (anycast 198.51.100.1)           backend
#   ca-eth0 198.51.100.10 --- fa-eth0 198.51.100.1
#           2001:db8:100::10          2001:db8:100::1
#                             fa-wg0 10.22.22.2 ---(veth: tunnel A)--- b-wga 10.22.22.1
#                                    fd22::2                                 fd22::1
#   client B                  front B (anycast 198.51.100.1)
#   cb-eth0 198.51.100.20 --- fb-eth0 198.51.100.1
#           2001:db8:100::20          2001:db8:100::1
#                             fb-wg0 10.23.23.2 ---(veth: tunnel B)--- b-wgb 10.23.23.1
#                                    fd23::2                                 fd23::1
#                                                                      lo 192.0.2.80 (shared service)
#                                                                      b-up0 203.0.113.2: default
#                                                                      route, a black hole
#
# Only documentation and private ranges, only inside namespaces made here.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init fronts ip nft python3 ethtool

NS_CA=tr-ca-$TOPO_ID
NS_CB=tr-cb-$TOPO_ID
NS_FA=tr-fa-$TOPO_ID
NS_FB=tr-fb-$TOPO_ID
BCONF=$TMP/back.ini
FAPID=
FBPID=
SIZE=$((12 * 1024 * 1024))
RATE=2		# MB/s: about 6 s per transfer, so a kill lands in the middle
LIMIT=60

inCA() { ip netns exec "$NS_CA" "$@"; }
inCB() { ip netns exec "$NS_CB" "$@"; }
inFA() { ip netns exec "$NS_FA" "$@"; }
inFB() { ip netns exec "$NS_FB" "$@"; }

# The EXIT trap: both fronts, then what topo_test cleans up (the back in
# BPID, the namespaces, $TMP).
fronts_cleanup() {
	local p
	for p in "$FAPID" "$FBPID"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	topo_test_cleanup
}
trap fronts_cleanup EXIT
e2e_watchdog 500

# Tunnel X (a or b) between front X and the backend, with its addresses.
tunnel_up() {
	local x=$1 n=$2 ns
	[ "$x" = a ] && ns=$NS_FA || ns=$NS_FB
	ip link add "f$x-wg0" netns "$ns" type veth peer name "b-wg$x" netns "$NS_B" || return 1
	ip -n "$ns" addr add "10.2$n.2$n.2/24" dev "f$x-wg0"
	ip -n "$ns" -6 addr add "fd2$n::2/64" dev "f$x-wg0" nodad
	ip -n "$ns" link set "f$x-wg0" mtu 1420 up
	ip -n "$NS_B" addr add "10.2$n.2$n.1/24" dev "b-wg$x"
	ip -n "$NS_B" -6 addr add "fd2$n::1/64" dev "b-wg$x" nodad
	ip -n "$NS_B" link set "b-wg$x" up
	# the shared service address lives behind every tunnel
	ip -n "$ns" route add 192.0.2.80/32 via "10.2$n.2$n.1" dev "f$x-wg0"
	ip netns exec "$ns" ethtool -K "f$x-wg0" tx off >/dev/null
	inB ethtool -K "b-wg$x" tx off >/dev/null
}

# Client X's LAN to front X; both fronts have the anycast address.
lan_up() {
	local x=$1 host=$2 ns cns
	if [ "$x" = a ]; then ns=$NS_FA; cns=$NS_CA; else ns=$NS_FB; cns=$NS_CB; fi
	ip link add "c$x-eth0" netns "$cns" type veth peer name "f$x-eth0" netns "$ns" || return 1
	ip -n "$cns" addr add "198.51.100.$host/24" dev "c$x-eth0"
	ip -n "$cns" -6 addr add "2001:db8:100::$host/64" dev "c$x-eth0" nodad
	ip -n "$cns" link set "c$x-eth0" up
	ip -n "$ns" addr add 198.51.100.1/24 dev "f$x-eth0"
	ip -n "$ns" -6 addr add 2001:db8:100::1/64 dev "f$x-eth0" nodad
	ip -n "$ns" link set "f$x-eth0" up
	ip netns exec "$cns" ethtool -K "c$x-eth0" tx off >/dev/null
	ip netns exec "$ns" ethtool -K "f$x-eth0" tx off >/dev/null
}

fronts_up() {
	local ns
	for ns in "$NS_CA" "$NS_CB" "$NS_FA" "$NS_FB" "$NS_B"; do
		topo_ns "$ns" || return 1
	done
	lan_up a 10 && lan_up b 20 && tunnel_up a 2 && tunnel_up b 3 || return 1
	topo_blackhole
	inB ip addr add 192.0.2.80/32 dev lo
}

# The backend's services: who-answers on both tunnel addresses, UDP on the
# wildcards, who and bulk transfers on the shared address.
services_up() {
	local a
	for a in 10.22.22.1 fd22::1 10.23.23.1 fd23::1; do
		topo_bg "$NS_B" python3 "$PEER" serve-tcp "$a" 80
		topo_bg "$NS_B" python3 "$PEER" serve-udp "$a" 53
	done
	topo_bg "$NS_B" python3 "$PEER" serve-udp 0.0.0.0 5353
	topo_bg "$NS_B" python3 "$PEER" serve-udp :: 5354
	topo_bg "$NS_B" python3 "$PEER" serve-who 192.0.2.80 shared 80
	topo_bg "$NS_B" python3 "$BULK" serve 0.0.0.0 81 82 "$SIZE" "$RATE"
	topo_wait 50 inB python3 "$PEER" tcp-who 10.23.23.1 80 &&
	    topo_wait 50 inB python3 "$PEER" tcp-line 192.0.2.80 80
}

# Front X's config: everything to its tunnel's backend address, the
# shared service on port 8080, bulk transfers on 8081/8082.
front_conf() {
	local x=$1 n=$2
	cat <<EOF
[front]
public_interface = f$x-eth0
tunnel_interface = f$x-wg0
backend = 10.2$n.2$n.1, fd2$n::1
control_socket = $TMP/f$x.sock
state_file = $TMP/f$x.state

[forward.shared]
proto = tcp
listen = 8080
to = 192.0.2.80:80

[forward.bulk]
proto = tcp
listen = 8081-8082
to = 10.2$n.2$n.1:81
EOF
}

# Start front X (ip netns exec execs the daemon: $! is the daemon itself).
start_front() {
	local x=$1 ns pid
	[ "$x" = a ] && ns=$NS_FA || ns=$NS_FB
	ip netns exec "$ns" "$BIN" run -c "$TMP/f$x.ini" >>"$TMP/f$x.log" 2>&1 &
	pid=$!
	if [ "$x" = a ]; then FAPID=$pid; else FBPID=$pid; fi
	topo_wait 100 ip netns exec "$ns" "$BIN" stats -c "$TMP/f$x.ini"
}

back_conf() {
	cat <<EOF
; tunnel A in [back] itself (the single-front file, unchanged), tunnel B added
[back]
tunnel_interface = b-wga
front = 10.22.22.2, fd22::2
mark = $1
control_socket = $TMP/back.sock

[back.b]
tunnel_interface = b-wgb
front = 10.23.23.2, fd23::2
EOF
}

ours() { { inB ip rule show; inB ip -6 rule show; } | grep -c 'proto 222'; }
table_routes() {
	local t
	for t in 7340 7341 7342 7343; do inB ip route show table "$t"; inB ip -6 route show table "$t"; done | grep -c .
}
has_table() { inB nft list tables | grep -q tunrelay_back; }
# Table T has its IPv4 and IPv6 default routes via the front.
defaults() { [ "$(inB ip route show table "$1" | grep -c '^default')" = 1 ] &&
	[ "$(inB ip -6 route show table "$1" | grep -c '^default')" = 1 ]; }

# Clients on both fronts: each service sees its own client.
traffic() {
	local m=$1
	expect "$m: TCP v4 through front A: backend sees client A" '^peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$m: TCP v4 through front B: backend sees client B" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$m: TCP v6 through front A: backend sees client A" '^peer=2001:db8:100::10 ' inCA python3 "$PEER" tcp-who 2001:db8:100::1 80
	expect "$m: TCP v6 through front B: backend sees client B" '^peer=2001:db8:100::20 ' inCB python3 "$PEER" tcp-who 2001:db8:100::1 80
	expect "$m: UDP v4 through front A: backend sees client A" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-who 198.51.100.1 53
	expect "$m: UDP v4 through front B: backend sees client B" '^peer=198\.51\.100\.20$' inCB python3 "$PEER" udp-who 198.51.100.1 53
	expect "$m: UDP v6 through front A: backend sees client A" '^peer=2001:db8:100::10$' inCA python3 "$PEER" udp-who 2001:db8:100::1 53
	expect "$m: UDP v6 through front B: backend sees client B" '^peer=2001:db8:100::20$' inCB python3 "$PEER" udp-who 2001:db8:100::1 53
}

# Nothing of ours is left in the backend.
left_nothing() {
	local m=$1
	if [ "$(ours)" = 0 ]; then ok "$m: no proto 222 rule left"; else not_ok "$m: rules left: $(inB ip rule show | grep 'proto 222')"; fi
	if [ "$(table_routes)" = 0 ]; then ok "$m: tables 7340 to 7343 empty"; else not_ok "$m: routes left in tables 7340..7343"; fi
	if has_table; then not_ok "$m: nft table inet tunrelay_back left"; else ok "$m: no nft table of ours"; fi
}

# One paced transfer (get or put) through front X into $TMP/X.WAY.
transfer() {
	local x=$1 way=$2 port=8081 rate=""
	[ "$way" = put ] && { port=8082; rate=$RATE; }
	ip netns exec "$([ "$x" = a ] && echo "$NS_CA" || echo "$NS_CB")" \
	    python3 "$BULK" "$way" 198.51.100.1 "$port" "$SIZE" "$LIMIT" "$TMP/ready.$x.$way" $rate >"$TMP/$x.$way" 2>&1 &
	TOPO_PIDS+=($!)
	eval "T_${x}_$way=$!"
}

# Front A dies (SIGKILL) mid-transfer and its tunnel is deleted: the
# transfers through front B finish byte-identical, the back carries on
# with tunnel B, and restores tunnel A when it is made again.
kill_front_a() {
	local m=$1 rc w
	rm -f "$TMP"/ready.*
	for w in get put; do transfer a "$w"; transfer b "$w"; done
	topo_wait 100 sh -c "ls '$TMP'/ready.a.get '$TMP'/ready.a.put '$TMP'/ready.b.get '$TMP'/ready.b.put" ||
	    not_ok "$m: transfers did not start"
	sleep 1.5
	kill -9 "$FAPID"; wait "$FAPID" 2>/dev/null; FAPID=
	inFA ip link del fa-wg0
	if topo_wait 30 sh -c "! ip netns exec $NS_B ip link show b-wga"; then ok "$m: tunnel A deleted mid-transfer"; else not_ok "$m: tunnel A still there"; fi
	for w in get put; do
		eval "wait \$T_b_$w"; rc=$?
		if [ "$rc" = 0 ]; then ok "$m: $w through front B byte-identical while front A died ($(cat "$TMP/b.$w"))"; else not_ok "$m: $w through front B: $(cat "$TMP/b.$w")"; fi
	done
	# front A's own transfers died with it: end them rather than wait
	for w in get put; do eval "kill \$T_a_$w; wait \$T_a_$w" 2>/dev/null; done
	expect "$m: check: tunnel A missing is a warning, run leaves it out" 'warning: \[back\] tunnel_interface b-wga: .*tunrelay run leaves it out' inB "$BIN" check -c "$BCONF"
	check "$m: check: passes with tunnel B alone" inB "$BIN" check -c "$BCONF"
	expect "$m: status says tunnel A is missing, B is up" 'tunnel back interface=b-wga table=7341 mark=0x7e1 state=missing' inB "$BIN" status -c "$BCONF"
	expect "$m: status: tunnel B up" 'tunnel back.b interface=b-wgb table=7342 mark=0x7e2 state=up' inB "$BIN" status -c "$BCONF"
	check "$m: the back logged tunnel A missing" grep -q "\[back\] tunnel_interface b-wga is missing" "$TMP/back.log"
	expect "$m: TCP through front B still works" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
	if topo_wait 20 defaults 7342; then ok "$m: table 7342 intact"; else not_ok "$m: table 7342 lost its routes"; fi
	# tunnel A comes back: its objects are restored, front A starts again
	# strict rp_filter on the new interface, as on many hosts: the back
	# must set it loose again
	inB sysctl -qw net.ipv4.conf.default.rp_filter=1
	tunnel_up a 2 || not_ok "$m: tunnel A made again"
	inB sysctl -qw net.ipv4.conf.default.rp_filter=0
	if topo_wait 30 defaults 7341; then ok "$m: tunnel A back: table 7341 restored"; else not_ok "$m: tunnel A back: table 7341 not restored"; fi
	check "$m: tunnel A back: logged" grep -q "\[back\] tunnel_interface b-wga is back" "$TMP/back.log"
	if topo_wait 20 sh -c "[ \$(ip netns exec $NS_B sysctl -n net.ipv4.conf.b-wga.rp_filter) != 1 ]"; then ok "$m: tunnel A back: rp_filter loose again"; else not_ok "$m: tunnel A back: rp_filter still strict"; fi
	start_front a || not_ok "$m: front A restarted"
	expect "$m: TCP through front A again" '^peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$m: UDP through front A again" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-who 198.51.100.1 53
	expect "$m: status: tunnel A up again" 'tunnel back interface=b-wga .*state=up' inB "$BIN" status -c "$BCONF"
}

# Paced transfers through front B (download and upload) and a download
# through front A, running when this returns.
start_transfers() {
	rm -f "$TMP"/ready.*
	transfer b get; transfer b put; transfer a get
	topo_wait 100 sh -c "ls '$TMP'/ready.b.get '$TMP'/ready.b.put '$TMP'/ready.a.get"
}

# The transfers of start_transfers finish byte-identical.
end_transfers() {
	local m=$1 x f w rc
	for x in b.get b.put a.get; do
		f=${x%%.*}; w=${x#*.}
		eval "wait \$T_${f}_$w"; rc=$?
		if [ "$rc" = 0 ]; then ok "$m: $w through front $f byte-identical ($(cat "$TMP/$x"))"; else not_ok "$m: $w through front $f: $(cat "$TMP/$x")"; fi
	done
}

# Section SEC (interface IF) has table 7341 + N and mark 0x7e1 + N, in
# status and in the kernel.
numbered() {
	local m=$1 sec=$2 if=$3 n=$4 t mk
	t=$((7341 + n)); mk=$(printf '0x%x' $((0x7e1 + n)))
	expect "$m: [$sec] keeps table $t, mark $mk" "^tunnel $sec interface=$if table=$t mark=$mk " inB "$BIN" status -c "$BCONF"
	if [ "$if" != "${if#b-wg}" ]; then
		expect "$m: fwmark $mk lookup $t" "fwmark $mk lookup $t proto 222" inB ip rule show
		if topo_wait 20 defaults "$t"; then ok "$m: table $t routes via $if"; else not_ok "$m: table $t lost its routes"; fi
		expect "$m: nft: $if marks $mk" "iifname \"$if\" ct mark set $(printf '0x%08x' $((0x7e1 + n)))" inB nft list table inet tunrelay_back
	fi
}

# back_conf (mark MODE, default connmark) with section [back.X] (a tunnel
# not made here) before [back.b].
conf_before_b() {
	back_conf "${3:-connmark}" | sed '/^\[back.b\]/,$d'
	printf '[back.%s]\ntunnel_interface = wg-%s\nfront = %s\n\n' "$1" "$1" "$2"
	back_conf "${3:-connmark}" | sed -n '/^\[back.b\]/,$p'
}

# [back] without a tunnel, [back.e] first, then tunnel A as [back.a] and B.
conf_renamed() {
	printf '[back]\nmark = connmark\ncontrol_socket = %s/back.sock\n\n' "$TMP"
	printf '[back.e]\ntunnel_interface = wg-e\nfront = 10.54.0.2\n\n'
	printf '[back.a]\ntunnel_interface = b-wga\nfront = 10.22.22.2, fd22::2\n\n'
	back_conf connmark | sed -n '/^\[back.b\]/,$p'
}

# Wait for the Nth "reloaded" in the back's log.
reloaded() { topo_wait 50 sh -c "[ \$(grep -c 'reloaded' '$TMP/back.log') -ge $1 ]"; }

# Config edits while transfers run through both fronts (see the caller).
edits() {
	local m n pid0
	# reload: [back.c] inserted before [back.b]
	m="reload with [back.c] inserted before [back.b]"
	start_transfers || not_ok "$m: transfers did not start"
	sleep 1.5
	conf_before_b c 10.52.0.2 >"$BCONF"
	n=$(grep -c 'reloaded' "$TMP/back.log")
	kill -HUP "$BPID"
	reloaded $((n + 1)) || not_ok "$m: no reload logged"
	numbered "$m" back b-wga 0
	numbered "$m" back.b b-wgb 1
	numbered "$m" back.c wg-c 2
	end_transfers "$m"
	if grep -q 'moved from table' "$TMP/back.log"; then not_ok "$m: a move logged"; else ok "$m: no tunnel moved"; fi
	expect "$m: new connections through front B" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
	# tunrelay restart: [back.c] removed, [back.d] inserted before [back.b]
	m="tunrelay restart with [back.d] instead of [back.c]"
	start_transfers || not_ok "$m: transfers did not start"
	sleep 1.5
	conf_before_b d 10.53.0.2 >"$BCONF"
	pid0=$BPID
	expect "$m: restarted" '^restarted ' inB timeout 40 "$BIN" restart -c "$BCONF"
	if kill -0 "$pid0" 2>/dev/null; then ok "$m: the same process"; else not_ok "$m: process $pid0 gone"; fi
	numbered "$m" back b-wga 0
	numbered "$m" back.b b-wgb 1
	numbered "$m" back.d wg-d 2
	check "$m: the number of [back.b] found in the kernel is logged" grep -q '\[back.b\] b-wgb keeps table 7342, mark 0x7e2 (found in nftables)' "$TMP/back.log"
	end_transfers "$m"
	# SIGKILL, then a new start with [back] renamed [back.a] and [back.e] first
	m="SIGKILL and start with [back.e] first and [back] renamed [back.a]"
	start_transfers || not_ok "$m: transfers did not start"
	sleep 1.5
	kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
	conf_renamed >"$BCONF"
	topo_start_back || not_ok "$m: the back did not start"
	numbered "$m" back.a b-wga 0
	numbered "$m" back.b b-wgb 1
	numbered "$m" back.e wg-e 2
	end_transfers "$m"
	expect "$m: new connections through front A" '^peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-who 198.51.100.1 80
	# reload to the original file: [back] takes tunnel A's number again
	m="reload back to [back] and [back.b]"
	back_conf connmark >"$BCONF"
	n=$(grep -c 'reloaded' "$TMP/back.log")
	kill -HUP "$BPID"
	reloaded $((n + 1)) || not_ok "$m: no reload logged"
	numbered "$m" back b-wga 0
	numbered "$m" back.b b-wgb 1
	if inB ip route show table 7343 | grep -q .; then not_ok "$m: table 7343 emptied"; else ok "$m: table 7343 emptied"; fi
	expect "$m: TCP through front B" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
}

fronts_up || { echo "not ok - topology"; exit 1; }
services_up || { echo "not ok - services"; exit 1; }
front_conf a 2 >"$TMP/fa.ini"
front_conf b 3 >"$TMP/fb.ini"
start_front a || { not_ok "front A did not come up"; cat "$TMP/fa.log"; exit 1; }
start_front b || { not_ok "front B did not come up"; cat "$TMP/fb.log"; exit 1; }

# --- mark = source
back_conf source >"$BCONF"
expect "check: source mode with two tunnels says what it cannot tell and why" 'mark = source with 2 tunnels: .*cannot be told apart' inB "$BIN" check -c "$BCONF"
expect "check: source mode names the UDP 0.0.0.0 limitation" 'IP_PKTINFO' inB "$BIN" check -c "$BCONF"
check "check: accepts the two-tunnel source config" inB "$BIN" check -c "$BCONF"
inB ip addr add 10.99.99.1/32 dev b-wga
inB ip addr add 10.99.99.1/32 dev b-wgb
expect "check: an address on both tunnels is an error in source mode" 'both tunnels carry 10\.99\.99\.1; mark = source' inB "$BIN" check -c "$BCONF"
if inB "$BIN" check -c "$BCONF" >/dev/null 2>&1; then not_ok "check: exit 1 for an address on both tunnels"; else ok "check: exit 1 for an address on both tunnels"; fi
inB ip addr del 10.99.99.1/32 dev b-wga
inB ip addr del 10.99.99.1/32 dev b-wgb
topo_start_back || { not_ok "back (source) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (source) is up"
traffic source
expect "source: rule from tunnel A's address to table 7341" 'from 10\.22\.22\.1 lookup 7341 proto 222' inB ip rule show
expect "source: rule from tunnel B's address to table 7342" 'from 10\.23\.23\.1 lookup 7342 proto 222' inB ip rule show
expect "source: table 7341 via front A" 'default via 10\.22\.22\.2 dev b-wga' inB ip route show table 7341
expect "source: table 7342 via front B" 'default via fd23::2 dev b-wgb' inB ip -6 route show table 7342
expect "source: status lists both tunnels" 'tunnel back.b interface=b-wgb table=7342 mark=0x7e2 state=up rules=2 front=10\.23\.23\.2,fd23::2' inB "$BIN" status -c "$BCONF"
expect "source: status -j lists both tunnels" '"tunnels":\[\{"section":"back","interface":"b-wga"' inB "$BIN" status -j -c "$BCONF"
expect "source: status -j is JSON: mode, tunnels, states" '^source 2 up up 7342 10\.23\.23\.2,fd23::2$' sh -c "ip netns exec $NS_B '$BIN' status -j -c '$BCONF' | python3 -c 'import json,sys; d=json.load(sys.stdin); t=d[\"tunnels\"]; print(d[\"mode\"], len(t), t[0][\"state\"], t[1][\"state\"], t[1][\"table\"], \",\".join(t[1][\"front\"]))'"
# one client address through both fronts: each front sends it to its own
# tunnel's address, so source mode tells the replies apart
inCB ip addr add 198.51.100.10/32 dev cb-eth0
expect "source: client address 198.51.100.10 through front A" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-line 198.51.100.1 53 198.51.100.10 0
expect "source: the same client address through front B" '^peer=198\.51\.100\.10$' inCB python3 "$PEER" udp-line 198.51.100.1 53 198.51.100.10 0
inCB ip addr del 198.51.100.10/32 dev cb-eth0
kill_front_a source
traffic "source, after front A came back"
# SIGKILL and a start with [back.c] inserted before [back.b]: without
# nftables, the numbers are read back from the routes
kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
conf_before_b c 10.52.0.2 source >"$BCONF"
topo_start_back || not_ok "source: start after SIGKILL with [back.c] inserted"
expect "source: after SIGKILL, [back.b] keeps table 7342" '^tunnel back.b interface=b-wgb table=7342 mark=0x7e2 ' inB "$BIN" status -c "$BCONF"
expect "source: after SIGKILL, [back.c] takes table 7343" '^tunnel back.c interface=wg-c table=7343 mark=0x7e3 ' inB "$BIN" status -c "$BCONF"
check "source: the number of [back.b] found in the routes is logged" grep -q '\[back.b\] b-wgb keeps table 7342, mark 0x7e2 (found in routes)' "$TMP/back.log"
expect "source: after SIGKILL, rule from tunnel B's address to table 7342" 'from 10\.23\.23\.1 lookup 7342 proto 222' inB ip rule show
traffic "source, after SIGKILL and a start with [back.c] inserted"
topo_stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "source: SIGTERM: exit 0"; else not_ok "source: SIGTERM: exit $rc"; fi
left_nothing "source: SIGTERM"

# --- mark = connmark
back_conf connmark >"$BCONF"
expect "check: connmark with two tunnels follows each connection" 'mark = connmark with 2 tunnels: each connection' inB "$BIN" check -c "$BCONF"
topo_start_back || { not_ok "back (connmark) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (connmark) is up"
traffic connmark
expect "connmark: UDP v4 on 0.0.0.0 through front A" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-who 198.51.100.1 5353
expect "connmark: UDP v4 on 0.0.0.0 through front B" '^peer=198\.51\.100\.20$' inCB python3 "$PEER" udp-who 198.51.100.1 5353
expect "connmark: UDP v6 on :: through front A" '^peer=2001:db8:100::10$' inCA python3 "$PEER" udp-who 2001:db8:100::1 5354
expect "connmark: UDP v6 on :: through front B" '^peer=2001:db8:100::20$' inCB python3 "$PEER" udp-who 2001:db8:100::1 5354
expect "connmark: fwmark rule of tunnel A" 'fwmark 0x7e1 lookup 7341 proto 222' inB ip rule show
expect "connmark: fwmark rule of tunnel B" 'fwmark 0x7e2 lookup 7342 proto 222' inB ip rule show
expect "connmark: tunnel B's own UDP map" 'map udp4_1' inB nft list table inet tunrelay_back
# one client address through both fronts to one shared service address
inCB ip addr add 198.51.100.10/32 dev cb-eth0
expect "connmark: shared address through front A sees 198.51.100.10" '^shared peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-line 198.51.100.1 8080
expect "connmark: shared address through front B, same client address" '^shared peer=198\.51\.100\.10 ' inCB python3 "$PEER" tcp-line-from 198.51.100.10 0 198.51.100.1 8080
inCB ip addr del 198.51.100.10/32 dev cb-eth0
n_before=$(ours)
# tunnel B goes down: only its own flows; up again: its objects come back
inB sysctl -qw net.ipv6.conf.b-wgb.keep_addr_on_down=1
inB ip link set b-wgb down
if topo_wait 30 sh -c "ip netns exec $NS_B '$BIN' status -c '$BCONF' | grep -q 'interface=b-wgb .*state=down'"; then ok "tunnel B down: status says so"; else not_ok "tunnel B down: status: $(inB "$BIN" status -c "$BCONF" | grep tunnel)"; fi
check "tunnel B down: logged" grep -q '\[back.b\] tunnel_interface b-wgb is down' "$TMP/back.log"
expect "tunnel B down: TCP through front A unaffected" '^peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-who 198.51.100.1 80
expect "tunnel B down: UDP on 0.0.0.0 through front A unaffected" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-who 198.51.100.1 5353
if defaults 7341; then ok "tunnel B down: table 7341 intact"; else not_ok "tunnel B down: table 7341 lost routes"; fi
inB ip link set b-wgb up
if topo_wait 30 defaults 7342; then ok "tunnel B up: table 7342 restored"; else not_ok "tunnel B up: table 7342 not restored"; fi
expect "tunnel B up: TCP through front B again" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
if [ "$(ours)" = "$n_before" ]; then ok "tunnel B up: rules as before ($n_before)"; else not_ok "tunnel B up: rules $n_before -> $(ours)"; fi
# an operator deletes tunnel B's rule: it comes back, tunnel A untouched
inB ip rule del fwmark 0x7e2 lookup 7342
if topo_wait 20 sh -c "ip netns exec $NS_B ip rule show | grep -q 'fwmark 0x7e2 lookup 7342'"; then ok "connmark: deleted rule of tunnel B restored within 2 s"; else not_ok "connmark: deleted rule of tunnel B restored"; fi
kill_front_a connmark
traffic "connmark, after front A came back"
expect "connmark: UDP on 0.0.0.0 through front A after it came back" '^peer=198\.51\.100\.10$' inCA python3 "$PEER" udp-who 198.51.100.1 5353
if [ "$(ours)" = "$n_before" ]; then ok "connmark: rules as before ($n_before)"; else not_ok "connmark: rules $n_before -> $(ours)"; fi
# SIGHUP to one tunnel: tunnel B's table and rules go, tunnel A stays
printf '[back]\ntunnel_interface = b-wga\nfront = 10.22.22.2, fd22::2\nmark = connmark\ncontrol_socket = %s/back.sock\n' "$TMP" >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 grep -q 'reloaded' "$TMP/back.log"
if topo_wait 20 sh -c "[ \$(ip netns exec $NS_B ip route show table 7342 | grep -c .) = 0 ]"; then ok "reload to one tunnel: table 7342 emptied"; else not_ok "reload to one tunnel: table 7342 still has routes"; fi
if inB ip rule show | grep -q 'lookup 7342'; then not_ok "reload to one tunnel: rule of 7342 left"; else ok "reload to one tunnel: no rule of 7342 left"; fi
expect "reload to one tunnel: front A works" '^peer=198\.51\.100\.10 ' inCA python3 "$PEER" tcp-who 198.51.100.1 80
back_conf connmark >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 sh -c "[ \$(grep -c 'reloaded' '$TMP/back.log') -ge 2 ]"
expect "reload to two tunnels: front B works again" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
# Config edits while connections run: a section inserted before [back.b]
# (reload), another edit across tunrelay restart, and [back] renamed and a
# section put first across SIGKILL and a new start. Every tunnel keeps its
# number (table 7341 + n, mark 0x7e1 + n) and the transfers through both
# fronts finish byte-identical.
edits
topo_stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "connmark: SIGTERM: exit 0"; else not_ok "connmark: SIGTERM: exit $rc"; fi
left_nothing "connmark: SIGTERM"

# SIGKILL leaves both tunnels' objects; cleanup removes them all
topo_start_back || not_ok "connmark: start before SIGKILL"
kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
if [ "$(ours)" -gt 0 ] && defaults 7342; then ok "SIGKILL left both tunnels' rules and tables"; else not_ok "SIGKILL left both tunnels' rules and tables"; fi
check "cleanup after SIGKILL: exit 0" inB "$BIN" cleanup -c "$BCONF"
left_nothing "cleanup after SIGKILL"

# no tunnel usable at all: check fails and run refuses, as with one tunnel
printf '[back]\nmark = connmark\ncontrol_socket = %s/none.sock\n[back.x]\ntunnel_interface = wg-x\nfront = 10.50.0.2\n[back.y]\ntunnel_interface = wg-y\nfront = 10.51.0.2\n' "$TMP" >"$TMP/none.ini"
expect "no tunnel there: check errors name both" 'none\.ini: error: \[back\.y\] tunnel_interface wg-y: .*No such device' inB "$BIN" check -c "$TMP/none.ini"
if inB "$BIN" check -c "$TMP/none.ini" >/dev/null 2>&1; then not_ok "no tunnel there: check exit 1"; else ok "no tunnel there: check exit 1"; fi
timeout 10 ip netns exec "$NS_B" "$BIN" run -c "$TMP/none.ini" >"$TMP/none.log" 2>&1; rc=$?
if [ "$rc" != 0 ] && grep -q 'tunnel_interface wg-x: interface wg-x: No such device' "$TMP/none.log"; then ok "no tunnel there: run refuses ($rc) and says why"; else not_ok "no tunnel there: run: exit $rc: $(cat "$TMP/none.log")"; fi
left_nothing "no tunnel there: refused start"
# one tunnel there, one not: run starts with the one and waits for the other
printf '[back]\nmark = connmark\ncontrol_socket = %s/back.sock\n[back.x]\ntunnel_interface = wg-x\nfront = 10.50.0.2\n[back.b]\ntunnel_interface = b-wgb\nfront = 10.23.23.2, fd23::2\n' "$TMP" >"$BCONF"
topo_start_back || not_ok "one tunnel missing: run did not start"
expect "one tunnel missing: status" 'tunnel back.x interface=wg-x table=7341 mark=0x7e1 state=missing' inB "$BIN" status -c "$BCONF"
expect "one tunnel missing: TCP through front B (tunnel 1 now)" '^peer=198\.51\.100\.20 ' inCB python3 "$PEER" tcp-who 198.51.100.1 80
topo_stop_back
left_nothing "one tunnel missing: SIGTERM"

if [ "$fail" -gt 0 ]; then
	echo "--- back log"
	tail -n 60 "$TMP/back.log"
	echo "--- front A log"
	tail -n 20 "$TMP/fa.log"
fi
e2e_summary
