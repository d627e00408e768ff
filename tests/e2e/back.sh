#!/bin/bash
# End-to-end test of the back half (issue 4): tunrelay on both sides of seed
# 000, no iptables/nft command issued by the test. The backend's services see
# the client's real address and their replies go back through the tunnel, with
# mark = source and mark = connmark (including UDP services bound to 0.0.0.0
# and ::); link flaps and deleted rules are repaired; SIGTERM leaves nothing,
# SIGKILL + restart reconciles. Topology: tests/e2e/topo.sh (the backend's
# default route is a black hole: a reply taking the wrong path is lost).
set -u

skip() { echo "SKIP: $*"; exit 77; }
[ -z "${TUNRELAY_SKIP_E2E:-}" ] || skip "TUNRELAY_SKIP_E2E is set"
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
for t in ip nft python3 ethtool ping; do
	command -v "$t" >/dev/null || skip "$t is not installed (scripts/setup.sh test)"
done

here=$(cd "$(dirname "$0")" && pwd)
BIN=${top_builddir:-$here/../..}/tunrelay
PEER=$here/peer.py
[ -x "$BIN" ] || { echo "not ok - $BIN not built"; exit 1; }
# shellcheck source=tests/e2e/topo.sh
. "$here/topo.sh"

TMP=$(mktemp -d /tmp/tunrelay-back.XXXXXX)
FCONF=$TMP/front.ini
BCONF=$TMP/back.ini
FPID=
BPID=
pass=0
fail=0

cleanup() {
	[ -n "$FPID" ] && kill -9 "$FPID" 2>/dev/null
	[ -n "$BPID" ] && kill -9 "$BPID" 2>/dev/null
	topo_down
	rm -rf "$TMP"
}
trap cleanup EXIT
# a test never runs unbounded
( sleep 600; echo "not ok - back.sh timed out"; kill -TERM $$ ) 2>/dev/null &
TOPO_PIDS+=("$!")

ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }
# expect DESC PATTERN COMMAND...: the command's output must match PATTERN
expect() {
	local desc=$1 pat=$2 out; shift 2
	out=$("$@" 2>&1)
	if printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		ok "$desc"
	else
		not_ok "$desc (wanted /$pat/, got: $(printf '%s' "$out" | head -5))"
	fi
}
check() { local desc=$1; shift; if "$@" >/dev/null 2>&1; then ok "$desc"; else not_ok "$desc"; fi; }

back_conf() {
	cat <<EOF
[back]
tunnel_interface = b-wg0
front = 10.22.22.2, fd22::2
mark = $1
control_socket = $TMP/back.sock
EOF
}

# ip netns exec execs the daemon: $! is the daemon itself
start_front() {
	ip netns exec "$NS_F" "$BIN" run -c "$FCONF" >>"$TMP/front.log" 2>&1 &
	FPID=$!
	topo_wait 100 inF "$BIN" stats -c "$FCONF"
}
start_back() {
	local n
	n=$(grep -c 'ready:' "$TMP/back.log" 2>/dev/null)
	ip netns exec "$NS_B" "$BIN" run -c "$BCONF" >>"$TMP/back.log" 2>&1 &
	BPID=$!
	topo_wait 100 sh -c "[ \$(grep -c 'ready:' '$TMP/back.log') -gt ${n:-0} ]"
}
stop_back() {
	kill -TERM "$BPID"
	wait "$BPID"
	local rc=$?
	BPID=
	return $rc
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

topo_up || { echo "not ok - topology"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
# UDP services bound to the wildcard, answering without IP_PKTINFO (BRIEF 4)
topo_bg "$NS_B" python3 "$PEER" serve-udp 0.0.0.0 5353
topo_bg "$NS_B" python3 "$PEER" serve-udp :: 5354
topo_front_conf "$TMP/ctl.sock" >"$FCONF"
start_front || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }

# --- mark = source
back_conf source >"$BCONF"
expect "check: source mode names the UDP 0.0.0.0 limitation" 'IP_PKTINFO' inB "$BIN" check -c "$BCONF"
check "check: accepts the source config" inB "$BIN" check -c "$BCONF"
start_back || { not_ok "back (source) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (source) is up"
traffic source
expect "source: rule from the tunnel address" 'from 10\.22\.22\.1 lookup 7341 proto 222' inB ip rule show
expect "source: default via the front in table 7341" 'default via 10\.22\.22\.2 dev b-wg0' inB ip route show table 7341
expect "source: rp_filter of b-wg0 is loose or off" '^[02]$' inB sysctl -n net.ipv4.conf.b-wg0.rp_filter
if has_table; then not_ok "source: no nftables table"; else ok "source: no nftables table"; fi
stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "source: SIGTERM: exit 0"; else not_ok "source: SIGTERM: exit $rc"; fi
left_nothing "source: SIGTERM"

# --- mark = auto picks connmark here (nftables works)
back_conf auto >"$BCONF"
start_back || { not_ok "back (auto) did not come up"; cat "$TMP/back.log"; exit 1; }
check "auto: chose connmark and said why" grep -q 'mark = auto: nftables is usable: using connmark' "$TMP/back.log"
stop_back

# --- mark = connmark
back_conf connmark >"$BCONF"
check "check: accepts the connmark config" inB "$BIN" check -c "$BCONF"
start_back || { not_ok "back (connmark) did not come up"; cat "$TMP/back.log"; exit 1; }
ok "back (connmark) is up"
check "connmark: nftables table inet tunrelay_back exists" has_table
traffic connmark
expect "connmark: UDP v4 service on 0.0.0.0 answers through the tunnel" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
expect "connmark: UDP v6 service on :: answers through the tunnel" '^peer=2001:db8:100::10$' inC python3 "$PEER" udp-who 2001:db8:100::1 5354
expect "connmark: fwmark rule" 'fwmark 0x7e1 lookup 7341 proto 222' inB ip rule show
n_before=$(ours)

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

# SIGKILL, then a restart: leftovers reconciled, no duplicates
kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
start_back || not_ok "restart after SIGKILL"
expect "after SIGKILL and restart: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "after SIGKILL and restart: UDP on 0.0.0.0 works" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
if [ "$(ours)" = "$n_before" ]; then ok "after restart: no duplicate rules ($n_before)"; else not_ok "after restart: rules $n_before -> $(ours)"; fi
if [ "$(inB nft list tables | grep -c tunrelay_back)" = 1 ]; then ok "after restart: one nft table"; else not_ok "after restart: one nft table"; fi

# SIGHUP: connmark -> source (table gone, source rules) -> connmark again
back_conf source >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 sh -c "[ \$(grep -c '^.*reloaded' '$TMP/back.log') -ge 1 ]"
expect "SIGHUP to source: rule from the tunnel address" 'from 10\.22\.22\.1 lookup 7341' inB ip rule show
if has_table; then not_ok "SIGHUP to source: nft table removed"; else ok "SIGHUP to source: nft table removed"; fi
expect "SIGHUP to source: TCP v4 works" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
printf '[back]\nbogus = 1\n' >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 grep -q 'keeping the running configuration' "$TMP/back.log"
check "SIGHUP with a broken file: old config kept" sh -c "ip netns exec $NS_B ip rule show | grep -q 'from 10.22.22.1 lookup 7341'"
back_conf connmark >"$BCONF"
kill -HUP "$BPID"
topo_wait 50 sh -c "[ \$(grep -c 'reloaded' '$TMP/back.log') -ge 2 ]"
check "SIGHUP back to connmark: nft table again" has_table
expect "SIGHUP back to connmark: UDP on 0.0.0.0 works" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 5353
if [ "$(ours)" = "$n_before" ]; then ok "after reloads: rules as before ($n_before)"; else not_ok "after reloads: rules $n_before -> $(ours)"; fi

stop_back; rc=$?
if [ "$rc" = 0 ]; then ok "connmark: SIGTERM: exit 0"; else not_ok "connmark: SIGTERM: exit $rc"; fi
left_nothing "connmark: SIGTERM"

if [ "$fail" -gt 0 ]; then
	echo "--- back log"
	cat "$TMP/back.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
