#!/bin/bash
# End-to-end test of one front with several backends: 40 clients (one
# source address each) reach TCP and UDP port 80 through the front; new
# flows are spread over three backends by client address, each backend sees
# the real client addresses and a client keeps its backend. A backend whose
# service dies (TCP check) or whose link goes down (TCP and ICMP checks) is
# taken out: new flows go to the others while existing flows stay; it comes
# back when it passes again. A reload that drops a backend keeps its flows.
# Topology: tests/e2e/topo_bk.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init bk ip python3 ethtool
# shellcheck source=tests/e2e/topo_bk.sh
. "$here/topo_bk.sh"

CONF=$TMP/front.ini
e2e_watchdog 300

CLIENTS=$(seq 10 49)
ADDRS=$(for i in $CLIENTS; do printf '198.51.100.%s ' "$i"; done)
declare -A WEB			# client number -> backend (B1, B2, B3)
declare -A NOW			# the same, as last asked

# The front's status.
status() { inF "$BIN" status -c "$CONF"; }
# Whether the status says backend NAME ("forward.web 10.22.22.2:80") is STATE.
is_state() { status | grep -q "^backend \"$1\" state=$2 "; }
# Wait (bounded: 15 s) until backend NAME is STATE.
wait_state() { topo_wait 150 is_state "$1" "$2"; }

# A TCP who-answer for client N from the public port 80.
who_tcp() {
	inC python3 "$PEER" tcp-line-from "198.51.100.$1" 0 198.51.100.1 80 2>&1
}
# A UDP who-answer for client N from port SPORT (0: any) to public PORT.
who_udp() {
	inC python3 "$PEER" udp-line 198.51.100.1 "$2" "198.51.100.$1" "$3" 2>&1
}

# ask KIND PORT: every client asks public PORT over KIND (tcp, udp) from a
# new port; NOW[N] is the backend that answered client N, "-" when none did
# or the backend saw another address than the client's own.
ask() {
	local i n
	NOW=()
	# ADDRS and CLIENTS are lists, split on purpose
	# shellcheck disable=SC2086
	while read -r i n; do
		NOW[$i]=$n
	done < <(inC python3 "$PEER" lines-each "$1" 0 198.51.100.1 "$2" $ADDRS \
	    2>/dev/null | paste -d' ' <(printf '%s\n' $CLIENTS) - |
	    awk '{ n = "-"; if ($2 ~ /^B[123]$/ && $3 == "peer=198.51.100." $1)
		n = $2; print $1, n }')
}

# same [FROM TO...]: how many clients NOW has on another backend than in
# WEB, where a client of WEB's FROM may be on any TO instead.
same() {
	local i bad=0 from=${1:-} t okto
	shift 2>/dev/null
	for i in $CLIENTS; do
		if [ -n "$from" ] && [ "${WEB[$i]}" = "$from" ]; then
			okto=0
			for t in "$@"; do [ "${NOW[$i]}" = "$t" ] && okto=1; done
			[ "$okto" = 1 ] || { bad=$((bad + 1)); echo "# client $i: ${NOW[$i]}, not $*" >&2; }
		elif [ "${NOW[$i]}" != "${WEB[$i]}" ]; then
			bad=$((bad + 1)); echo "# client $i: ${NOW[$i]}, not ${WEB[$i]}" >&2
		fi
	done
	echo "$bad"
}

# The front's Prometheus metrics.
metrics() {
	inF python3 -c 'import urllib.request, sys
sys.stdout.write(urllib.request.urlopen(
    "http://127.0.0.1:9464/metrics", timeout=5).read().decode())'
}

# Print the front's log, rules, flows and status (after a failure).
dump() {
	echo "--- state changes"; grep -E 'backend .* is (up|down)' "$TMP/front.log"
	echo "--- log"; tail -20 "$TMP/front.log"
	echo "--- status"; status
	echo "--- flows"; inF "$BIN" flows -c "$CONF" | head -20
}

bk_up || { echo "not ok - topology"; exit 1; }
for n in 1 2 3; do
	bk_serve "$n" "$PEER" || { echo "not ok - backend $n service"; exit 1; }
done
bk_conf "$TMP/ctl.sock" >"$CONF"
check "tunrelay check accepts the config" inF "$BIN" check -c "$CONF"
# ip netns exec execs the relay: $! is the relay itself
ip netns exec "$NS_F" "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
DPID=$!
topo_wait 100 inF "$BIN" status -c "$CONF" || {
	not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up"
expect "status lists the nine backends, all up" '^9$' \
    sh -c "ip netns exec $NS_F $BIN status -c $CONF | grep -c '^backend .* state=up '"
expect "status shows a backend's weight" \
    '^backend "forward.web 10.22.22.1:80" state=up weight=2 ' status

# --- spread, real client addresses, stickiness -----------------------------
ask tcp 80
bad=0
for i in $CLIENTS; do
	WEB[$i]=${NOW[$i]}
	[ "${WEB[$i]}" = - ] && bad=$((bad + 1))
done
if [ "$bad" = 0 ]; then
	ok "40 clients: each backend answer shows the client's own address"
else
	not_ok "40 clients: $bad answers missing or without the client's own address"
fi
for b in B1 B2 B3; do
	n=0
	for i in $CLIENTS; do [ "${WEB[$i]}" = "$b" ] && n=$((n + 1)); done
	echo "# $b has $n clients"
	if [ "$n" -gt 0 ]; then
		ok "new flows spread: $b got clients ($n of 40)"
	else
		not_ok "new flows spread: $b got no client"
	fi
done
ask tcp 80
expect "each client keeps its backend (TCP, new connections)" '^0$' same

# IPv6 clients of the default destination (backend = fd22::1, fd22::2, fd22::3)
declare -A V6
bad=0
for i in $(seq 10 19); do
	a=$(inC python3 "$PEER" tcp-line-from "2001:db8:100::$i" 0 2001:db8:100::1 80 2>&1)
	V6[$i]=$(printf '%s\n' "$a" | sed -n "s/^\(B[123]\) peer=2001:db8:100::$i .*/\1/p")
	[ -n "${V6[$i]}" ] || { bad=$((bad + 1)); echo "# v6 client $i: $a"; }
done
if [ "$bad" = 0 ]; then
	ok "IPv6: 10 clients reach the backends, which see the client's own address"
else
	not_ok "IPv6: $bad clients without an answer showing their address"
fi
expect "IPv6: the clients are spread (two backends at least)" '^[23]$' \
    sh -c "printf '%s\n' ${V6[*]} | sort -u | wc -l"
ask udp 80
expect "each client keeps its backend (UDP)" '^0$' same

# clients of each backend, and a UDP flow from one of each, kept open
for b in B1 B2 B3; do
	for i in $CLIENTS; do [ "${WEB[$i]}" = "$b" ] && { eval "C$b=$i"; break; }; done
done
for b in B1 B2 B3; do
	c=$(eval "echo \$C$b")
	expect "a UDP flow of client $c to $b" "^$b peer=198\\.51\\.100\\.$c port=40001 " \
	    who_udp "$c" 80 40001
done
expect "tunrelay flows names the backend of a flow" \
    "src=198\\.51\\.100\\.$CB2 .*sport=40001 .* backend=\"forward\\.web 10\\.22\\.22\\.2:80\"" \
    inF "$BIN" flows -c "$CONF"

# --- a backend's service dies: the TCP check takes it out -------------------
bk_kill 2
if wait_state "forward.web 10.22.22.2:80" down; then
	ok "B2's service killed: its TCP check takes it out"
else
	not_ok "B2's service killed: still up after 15 s"; dump
fi
expect "the ICMP-checked forward keeps B2 (it still answers pings)" \
    '^backend "forward.dns 10.22.22.2:80" state=up ' status
expect "the down transition is counted" \
    '^backend "forward.web 10.22.22.2:80" state=down .* downs=1$' status
expect "metrics: B2 of forward.web is down (tunrelay_backend_up 0)" \
    '^tunrelay_backend_up\{backend="forward\.web 10\.22\.22\.2:80"\} 0$' metrics
expect "metrics: its down transition is counted" \
    '^tunrelay_backend_transitions_total\{backend="forward\.web 10\.22\.22\.2:80",to="down"\} 1$' metrics
expect "metrics: B1's flows are counted" \
    '^tunrelay_backend_flows_created_total\{backend="forward\.web 10\.22\.22\.1:80"\} [1-9]' metrics
expect "status -j lists the backends with their state" \
    '"backend":"forward\.web 10\.22\.22\.2:80","state":"down"' \
    inF "$BIN" status -j -c "$CONF"
ask tcp 80
expect "B2 down: its clients go to B1/B3, the others keep theirs" '^0$' same B2 B1 B3
expect "B2 down: B1's existing UDP flow continues" "^B1 peer=198\\.51\\.100\\.$CB1 port=40001 " \
    who_udp "$CB1" 80 40001
expect "B2 down: B3's existing UDP flow continues" "^B3 peer=198\\.51\\.100\\.$CB3 port=40001 " \
    who_udp "$CB3" 80 40001
expect "B2 down: its own flow is left alone (still listed on B2)" \
    "src=198\\.51\\.100\\.$CB2 .*sport=40001 .* backend=\"forward\\.web 10\\.22\\.22\\.2:80\"" \
    inF "$BIN" flows -c "$CONF"

bk_serve 2 "$PEER" || not_ok "B2's service restarted"
if wait_state "forward.web 10.22.22.2:80" up; then
	ok "B2's service back: it passes its checks and is up again"
else
	not_ok "B2's service back: still down after 15 s"; dump
fi
ask tcp 80
expect "B2 up: every client's new flows go to its own backend again" '^0$' same

# --- a backend's link goes down: TCP and ICMP checks take it out -------------
ip -n "$NS_SW" link set sw-b3 down
if wait_state "forward.web 10.22.22.3:80" down &&
    wait_state "forward.dns 10.22.22.3:80" down; then
	ok "B3's link down: TCP and ICMP checks take it out"
else
	not_ok "B3's link down: not taken out within 15 s"; dump
fi
ask tcp 80
expect "B3 down: its TCP clients go to B1/B2, the others keep theirs" '^0$' same B3 B1 B2
ask udp 5353
bad=0
for i in $CLIENTS; do
	case ${NOW[$i]} in B1|B2) ;; *) bad=$((bad + 1));; esac
done
if [ "$bad" = 0 ]; then
	ok "B3 down: UDP 5353 (ICMP-checked) served by B1/B2 for all 40"
else
	not_ok "B3 down: $bad UDP 5353 clients not served by B1/B2"
fi
expect "B3 down: B1's existing UDP flow continues" "^B1 peer=198\\.51\\.100\\.$CB1 port=40001 " \
    who_udp "$CB1" 80 40001
if wait_state "backend fd22::3" down; then
	ok "B3's link down: its ICMPv6 check takes it out of the IPv6 backends"
else
	not_ok "B3's link down: backend fd22::3 still up"; dump
fi
bad=0
for i in $(seq 10 19); do
	a=$(inC python3 "$PEER" tcp-line-from "2001:db8:100::$i" 0 2001:db8:100::1 80 2>&1 |
	    sed -n "s/^\(B[12]\) peer=2001:db8:100::$i .*/\1/p")
	if [ "${V6[$i]}" = B3 ]; then
		[ -n "$a" ] || { bad=$((bad + 1)); echo "# v6 client $i: '$a'"; }
	else
		[ "$a" = "${V6[$i]}" ] || { bad=$((bad + 1)); echo "# v6 client $i: '$a' not ${V6[$i]}"; }
	fi
done
if [ "$bad" = 0 ]; then
	ok "IPv6, B3 down: its clients go to B1/B2, the others keep theirs"
else
	not_ok "IPv6, B3 down: $bad clients answered wrongly"
fi
ip -n "$NS_SW" link set sw-b3 up
if wait_state "forward.web 10.22.22.3:80" up &&
    wait_state "forward.dns 10.22.22.3:80" up &&
    wait_state "backend fd22::3" up; then
	ok "B3's link back: it is up again"
else
	not_ok "B3's link back: still down after 15 s"; dump
fi
expect "B3 up: its client's new flows go to it again" "^B3 peer=198\\.51\\.100\\.$CB3 " \
    who_tcp "$CB3"

# --- a section inserted before the forwards keeps their backends' state ------
# The forwards' rule ids follow their place in the file: a reload must
# still find each backend by its forward's name, so B3 stays down (no
# rise wait, no new flows sent to a dead backend) and keeps its totals.
ip -n "$NS_SW" link set sw-b3 down
if wait_state "forward.web 10.22.22.3:80" down; then
	ok "B3's link down again: taken out"
else
	not_ok "B3's link down again: still up after 15 s"; dump
fi
FIRST='[forward.first]
proto = udp
listen = 6000
to = 10.22.22.1:6000, 10.22.22.2:6000'
# forward.dns has the same targets, so only totals tell the forwards apart
web_b1() {
	status | sed -n 's/^backend "forward.web 10.22.22.1:80" .*\(flows_created=[0-9]* packets=[0-9]* bytes=[0-9]*\).*/\1/p'
}
WEB_B1=$(web_b1)
bk_conf "$TMP/ctl.sock" "10.22.22.2:80, " "$FIRST" >"$CONF"
kill -HUP "$DPID"
if topo_wait 100 sh -c "ip netns exec $NS_F $BIN status -c $CONF | grep -q 'forward.first'"; then
	ok "reload with a section inserted before forward.web"
else
	not_ok "reload with the inserted section not taken"; dump
fi
expect "inserted section: B3 of forward.web is still down, its downs kept" \
    '^backend "forward.web 10.22.22.3:80" state=down .* downs=2$' status
if [ -n "$WEB_B1" ] && [ "$(web_b1)" = "$WEB_B1" ]; then
	ok "inserted section: B1 of forward.web kept its own totals ($WEB_B1)"
else
	not_ok "inserted section: B1 of forward.web has '$(web_b1)', had '$WEB_B1'"; dump
fi
ask tcp 80
expect "inserted section: B3's clients go to B1/B2, the others keep theirs" '^0$' same B3 B1 B2
ip -n "$NS_SW" link set sw-b3 up
if wait_state "forward.web 10.22.22.3:80" up; then
	ok "B3's link back after the inserted section: up again"
else
	not_ok "B3 still down after its link came back"; dump
fi

# --- a reload that drops B2 keeps B2's flows ---------------------------------
bk_conf "$TMP/ctl.sock" "" >"$CONF"
kill -HUP "$DPID"
if topo_wait 100 sh -c "! ip netns exec $NS_F $BIN status -c $CONF | grep -q 'forward.web 10.22.22.2:80'"; then
	ok "reload: forward.web's list no longer has B2"
else
	not_ok "reload: B2 still listed"; dump
fi
expect "reload: B2's existing UDP flow stays on B2" "^B2 peer=198\\.51\\.100\\.$CB2 port=40001 " \
    who_udp "$CB2" 80 40001
ask tcp 80
expect "reload: only B2's clients move, to B1/B3" '^0$' same B2 B1 B3
expect "reload: B1 kept its counters" \
    '^backend "forward.web 10.22.22.1:80" state=up weight=2 flows=[1-9][0-9]* flows_created=[1-9]' status

# --- an unanswered flow follows a reload to its new target --------------------
# forward.late first points at B1:6001, where nothing listens (B1's port
# unreachable is ignored by the client's unconnected socket), and the client
# keeps asking from one port, every half second. A reload pointing
# forward.late at B1:80 must reach that same client flow: its next try is
# started over at the new target and answered.
late() {
	bk_conf "$TMP/ctl.sock" "" "[forward.late]
proto = udp
listen = 6001
to = 10.22.22.1:$1"
}
stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }
# reload with forward.late to B1:PORT; wait (bounded: 10 s) for it to be taken
late_reload() {
	local n
	n=$(grep -c 'reloaded' "$TMP/front.log")
	late "$1" >"$CONF"
	kill -HUP "$DPID"
	topo_wait 100 sh -c "[ \$(grep -c reloaded $TMP/front.log) -gt $n ]" ||
	    not_ok "reload with forward.late to B1:$1 not taken"
}
late_reload 6001
rt0=$(stat flows_retargeted)
inC python3 "$PEER" udp-line 198.51.100.1 6001 "198.51.100.$CB1" 40003 40 0.5 \
    >"$TMP/late.out" 2>&1 &
lpid=$!
if topo_wait 100 sh -c "ip netns exec $NS_F $BIN flows -c $CONF | grep -q 'sport=40003 dport=6001 src=10\.22\.22\.1 dst=198\.51\.100\.$CB1 sport=6001 '"; then
	ok "an unanswered UDP flow to B1:6001 (nothing listens there)"
else
	not_ok "no flow of the client to B1:6001"; inF "$BIN" flows -c "$CONF"
fi
late_reload 80
wait "$lpid"
if grep -q "^B1 peer=198\.51\.100\.$CB1 port=40003 " "$TMP/late.out"; then
	ok "after the reload the same client flow is answered by B1:80 ($(cat "$TMP/late.out"))"
else
	not_ok "after the reload: $(cat "$TMP/late.out")"; dump
fi
rt1=$(stat flows_retargeted)
if [ "$((rt1 - rt0))" -ge 1 ]; then ok "flows_retargeted +$((rt1 - rt0))"
else not_ok "flows_retargeted $rt0 -> $rt1"; fi

kill -TERM "$DPID"
topo_wait 200 sh -c "! kill -0 $DPID" || kill -9 "$DPID"
wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ]; then
	ok "SIGTERM: exit 0"
else
	not_ok "SIGTERM: exit $rc"
fi
# on failure: every state change the checks made, then the log's end
[ "$fail" = 0 ] || { grep -E 'backend .* is (up|down)' "$TMP/front.log"; tail -20 "$TMP/front.log"; }
e2e_summary
