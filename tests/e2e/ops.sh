#!/bin/bash
# End-to-end test of the operator tools on the keep-client-ip topology
# (tests/e2e/topo.sh):
#   - the Prometheus endpoint (metrics = ...) scraped while traffic flows:
#     valid text format, counters that move, the same values as
#     `tunrelay stats`; a Unix socket endpoint; no endpoint by default;
#   - flow logging: new and evicted flows with both tuples, rate-limited,
#     with a "suppressed" summary;
#   - `tunrelay check` findings, each made by creating the bad condition in
#     the namespaces: forwarding off, strict rp_filter, an nftables DNAT and
#     MASQUERADE left by an old script, a forward chain that drops, legacy
#     iptables rules, a small tunnel MTU, MSS clamping off, a tunnel down or
#     without carrier, a silent backend, a rule before tunrelay's, port
#     overlaps; and on a running front: forwarding, rp_filter and rules that
#     drifted. On the backend: an old fwmark rule and a MASQUERADE;
#   - `tunrelay stats` of the back half: its mode and the repairs it made.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init ops ip nft python3 ethtool curl ss
TOOL=$here/ops_tool.py
CONF=$TMP/front.ini

e2e_watchdog 180

# refute DESC PATTERN COMMAND...: the output must not match PATTERN
refute() {
	local desc=$1 pat=$2 out; shift 2
	out=$("$@" 2>&1)
	if printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		not_ok "$desc (unwanted /$pat/ in: $(printf '%s' "$out" | grep -E -- "$pat" | head -3))"
	else
		ok "$desc"
	fi
}

start() { topo_run DPID "$NS_F" "$CONF" "$TMP/front.log"; }
stop() {
	local rc
	kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; rc=$?; DPID=
	[ "$rc" = 0 ] || not_ok "the front exits 0 on SIGTERM (exit $rc)"
}
scrape() { inF curl -sf --max-time 5 http://127.0.0.1:9731/metrics; }
stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }
# run check in the front's namespace (or another: CHECK_NS), output in $TMP/out
run_check() {
	ip netns exec "${CHECK_NS:-$NS_F}" "$BIN" check -c "${1:-$CONF}" >"$TMP/out" 2>&1
	echo "rc=$?" >>"$TMP/out"
}
out() { cat "$TMP/out"; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }

# ---------------------------------------------------------------- metrics
{ topo_front_conf "$TMP/ctl.sock"
  printf 'max_flows = 64\nmetrics = 9731\nflow_log = yes\nflow_log_rate = 5\n'; } >"$CONF"
start || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
ok "front is up with metrics and flow logging"
expect "metrics listen on loopback only" '127\.0\.0\.1:9731' inF ss -ltn
refute "nothing listens on a public address" '198\.51\.100\.1:9731|\*:9731|0\.0\.0\.0:9731' inF ss -ltn

scrape >"$TMP/m0"
expect "the endpoint serves valid Prometheus text" '^samples=[0-9]+' python3 "$TOOL" validate "$TMP/m0"
expect "content type is the Prometheus text format" 'text/plain; version=0\.0\.4' \
    inF curl -si --max-time 5 http://127.0.0.1:9731/metrics
expect "another path is 404" '^404$' inF curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:9731/
expect "POST is refused" '^(405|501)$' inF curl -s -o /dev/null -w '%{http_code}' --max-time 5 -d x http://127.0.0.1:9731/metrics

fwd0=$(grep '^tunrelay_forwarded_total ' "$TMP/m0" | cut -d' ' -f2)
# traffic while scraping: TCP and UDP flows, and a scrape in the middle
for _ in 1 2 3 4 5; do inC python3 "$PEER" tcp-who 198.51.100.1 80 >/dev/null; done &
tp=$!
scrape >"$TMP/m1"
wait "$tp"
inC python3 "$PEER" udp-who 198.51.100.1 53 >/dev/null
scrape >"$TMP/m2"
fwd2=$(grep '^tunrelay_forwarded_total ' "$TMP/m2" | cut -d' ' -f2)
check "scrape during traffic is valid" python3 "$TOOL" validate "$TMP/m1"
if [ -n "$fwd0" ] && [ -n "$fwd2" ] && [ "$fwd2" -ge $((fwd0 + 30)) ]; then
	ok "forwarded packets move ($fwd0 -> $fwd2)"
else
	not_ok "forwarded packets move ($fwd0 -> $fwd2)"
fi
expect "flows by state: TCP time_wait counted" '^tunrelay_flows_tcp\{state="time_wait"\} [1-9]' cat "$TMP/m2"
expect "flows created counted" '^tunrelay_flows_created_total [1-9]' cat "$TMP/m2"
expect "table fill is a ratio" '^tunrelay_table_fill_ratio 0\.[0-9]{6}$' cat "$TMP/m2"

# stats and scrape agree: compare a scrape taken between two equal stats
agree=
for _ in 1 2 3 4 5; do
	inF "$BIN" stats -c "$CONF" >"$TMP/s1"
	scrape >"$TMP/m3"
	inF "$BIN" stats -c "$CONF" >"$TMP/s2"
	if cmp -s "$TMP/s1" "$TMP/s2"; then
		python3 "$TOOL" compare "$TMP/s1" "$TMP/m3" >"$TMP/cmp" 2>&1 && agree=1
		break
	fi
	sleep 0.3
done
if [ -n "$agree" ]; then ok "tunrelay stats and the endpoint show the same values"
else not_ok "tunrelay stats and the endpoint show the same values: $(head -5 "$TMP/cmp" 2>/dev/null)"; fi

# ---------------------------------------------------------------- flow log
expect "flow log: a new TCP flow with both tuples" \
    'flow new tcp src=198\.51\.100\.10 dst=198\.51\.100\.1 sport=[0-9]+ dport=80 src=10\.22\.22\.1 dst=198\.51\.100\.10 sport=80 dport=[0-9]+ state=syn_sent rule="backend 10\.22\.22\.1"' \
    cat "$TMP/front.log"
sleep 1.1	# the bucket (5 lines per second) refills
# 100 UDP flows to a port nobody answers: unassured, so the 64-flow table
# evicts the oldest; far more events than 5 lines per second
inC python3 "$TOOL" udp-burst 198.51.100.1 9 100 0
topo_wait 30 sh -c "grep -q 'lines suppressed' '$TMP/front.log'"
expect "flow log: the rate limit says how many lines it suppressed" \
    'flow log: [0-9]+ lines suppressed \(flow_log_rate = 5 per second\)' cat "$TMP/front.log"
supp=$(stat flow_log_suppressed)
lines=$(stat flow_log_lines)
evicted=$(stat flows_evicted)
if [ "${supp:-0}" -ge 100 ] && [ "${evicted:-0}" -ge 30 ]; then
	ok "flow log: $supp lines suppressed, $lines written, $evicted flows evicted"
else
	not_ok "flow log: suppressed=$supp lines=$lines evicted=$evicted (want >= 100 suppressed, >= 30 evicted)"
fi
n=$(grep -c 'flow \(new\|evicted\) udp' "$TMP/front.log")
if [ "$n" -le 12 ]; then ok "flow log: the burst wrote $n UDP lines (bucket of 5, 5 per second)"
else not_ok "flow log: the burst wrote $n UDP lines (want <= 12)"; fi
sleep 1.1
inC python3 "$TOOL" udp-burst 198.51.100.1 9 1 0
topo_wait 20 sh -c "grep -q 'flow evicted udp' '$TMP/front.log'"
expect "flow log: an evicted flow with both tuples and counters" \
    'flow evicted udp src=198\.51\.100\.10 dst=198\.51\.100\.1 sport=[0-9]+ dport=9 src=10\.22\.22\.1 dst=198\.51\.100\.10 sport=9 dport=[0-9]+ state=new age=[0-9]+s idle=[0-9]+s packets=1/0 bytes=[0-9]+/0 rule="backend 10\.22\.22\.1"' \
    cat "$TMP/front.log"

# SIGHUP turns flow logging off: new flows are no longer logged
sed -i 's/^flow_log = yes/flow_log = no/' "$CONF"
kill -HUP "$DPID"
topo_wait 50 sh -c "[ \"\$(ip netns exec $NS_F $BIN stats -c $CONF | awk '\$1==\"reloads\"{print \$2}')\" = 1 ]"
before=$(grep -c '^.*flow new' "$TMP/front.log")
inC python3 "$PEER" tcp-who 198.51.100.1 80 >/dev/null
after=$(grep -c '^.*flow new' "$TMP/front.log")
if [ "$before" = "$after" ]; then ok "SIGHUP with flow_log = no stops the flow log"
else not_ok "SIGHUP with flow_log = no stops the flow log ($before -> $after lines)"; fi

# ---------------------------------------------------------------- check, running front
run_check
expect "check on a healthy running front: configuration OK" 'configuration OK' out
expect "check notices the running front" 'note: a tunrelay front runs in this network namespace' out

inF sysctl -qw net.ipv4.ip_forward=0
inF sysctl -qw net.ipv4.conf.trl-pub.rp_filter=1
inF ip rule add pref 0 lookup local
ex=$(inF ip rule show | awk -F: '/iif f-eth0 ipproto tcp dport 22 lookup local/ { print $1; exit }')
inF ip rule del pref "$ex"
run_check
expect "running: ip_forward 0 is an error with the fix" \
    'net\.ipv4\.ip_forward is 0 while tunrelay runs: nothing is relayed \(fix: sysctl -w net\.ipv4\.ip_forward=1' out
expect "running: rp_filter on trl-pub with the fix" \
    'net\.ipv4\.conf\.trl-pub\.rp_filter is 1: .*\(fix: sysctl -w net\.ipv4\.conf\.trl-pub\.rp_filter=0\)' out
expect "running: the priority-0 local rule is back" \
    'ip rule 0 \(lookup local\) is back in first place.*fix: ip rule del pref 0 lookup local' out
expect "running: the SSH exclusion rule is missing" \
    'exclude tcp/22: its lookup-local rule is missing; the port goes to the backend \(fix: systemctl reload tunrelay' out
expect "running: check fails" '^rc=1$' out
inF sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.trl-pub.rp_filter=0
inF ip rule del pref 0 lookup local
kill -HUP "$DPID"
topo_wait 50 sh -c "ip netns exec $NS_F ip rule show | grep -q 'dport 22 lookup local'"
run_check
expect "running: after the fixes and a reload: configuration OK" 'configuration OK' out

# ---------------------------------------------------------------- status, flows, reload, delete
jv() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
inC python3 "$PEER" udp-who 198.51.100.1 53 >/dev/null
inC python3 "$PEER" tcp-who 198.51.100.1 80 >/dev/null
expect "status: version, role, config, queues, devices" "^version .*|role front" inF "$BIN" status -c "$CONF"
expect "status -j: version and role" '^front 0\.[0-9]' sh -c "ip netns exec $NS_F $BIN status --config $CONF -j | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"role\"], d[\"version\"], d[\"queues\"], len(d[\"devices\"]))'"
st=$(inF "$BIN" status -j -c "$CONF")
rp=$(printf '%s' "$st" | jv 'sum(r["packets"] for r in d["rules"] if r["rule"].startswith("backend 10.22.22.1"))')
rf=$(printf '%s' "$st" | jv 'sum(r["flows_created"] for r in d["rules"] if r["rule"].startswith("backend 10.22.22.1"))')
if [ "${rp:-0}" -gt 0 ] && [ "${rf:-0}" -ge 2 ]; then ok "status -j: the backend rule counted packets ($rp) and flows ($rf)"
else not_ok "status -j: per-rule counters (packets=$rp flows=$rf: $st)"; fi
scrape >"$TMP/m4"
expect "metrics: per-rule packets with the rule label" '^tunrelay_rule_packets_total\{rule="backend 10\.22\.22\.1"\} [1-9]' cat "$TMP/m4"
expect "metrics: the build-info gauge" '^tunrelay_build_info\{version="[0-9.]+"\} 1$' cat "$TMP/m4"
check "metrics with the rule samples stay valid" python3 "$TOOL" validate "$TMP/m4"
n=$(inF "$BIN" flows -j -c "$CONF" | jv 'd["count"]')
nu=$(inF "$BIN" flows -j -c "$CONF" --proto udp | jv 'len([f for f in d["flows"] if f["proto"] != "udp"])')
n53=$(inF "$BIN" flows -j -c "$CONF" -p udp --port 53 --addr 198.51.100.10 | jv 'd["count"]')
if [ "${n:-0}" -ge 2 ] && [ "$nu" = 0 ] && [ "${n53:-0}" -ge 1 ]; then ok "flows -j with filters ($n flows, $n53 udp/53 from the client)"
else not_ok "flows -j with filters (all=$n non-udp-in-udp=$nu udp53=$n53)"; fi
expect "flows: a bad filter says what is wrong" 'port "99999" is not valid' inF "$BIN" flows -c "$CONF" --port 99999
expect "flows --delete: the UDP flows go" '^deleted [1-9][0-9]* flows?$' inF "$BIN" flows --delete --proto udp -c "$CONF"
nu=$(inF "$BIN" flows -j -c "$CONF" --proto udp | jv 'd["count"]')
if [ "$nu" = 0 ]; then ok "after --delete no UDP flow is left"; else not_ok "after --delete no UDP flow is left ($nu)"; fi
r0=$(stat reloads)
expect "reload: finds the instance through the control socket" '^reloaded ' inF "$BIN" reload -c "$CONF"
r1=$(stat reloads)
if [ "$r1" = $((r0 + 1)) ]; then ok "reload: one reload counted ($r0 -> $r1)"; else not_ok "reload: one reload counted ($r0 -> $r1)"; fi
expect "stats -j is one JSON object" '^[0-9]+$' sh -c "ip netns exec $NS_F $BIN stats -j -c $CONF | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"forwarded\"])'"
expect "show-rules prints the capture rules without installing" 'ip rule .*iif f-eth0.*lookup' inF "$BIN" show-rules -c "$CONF"
stop

# ---------------------------------------------------------------- unix socket endpoint
{ topo_front_conf "$TMP/ctl.sock"; printf 'metrics = unix:%s/metrics.sock\n' "$TMP"; } >"$CONF"
start || not_ok "front with a unix metrics socket did not come up"
expect "unix socket endpoint answers" '^tunrelay_forwarded_total [0-9]+$' \
    inF curl -sf --max-time 5 --unix-socket "$TMP/metrics.sock" http://localhost/metrics
expect "unix socket is mode 0600" '^srw-------' ls -l "$TMP/metrics.sock"
refute "no TCP endpoint when metrics names a socket" ':9731' inF ss -ltn
stop
check "unix socket removed at exit" test ! -e "$TMP/metrics.sock"

# a taken port: the start fails with a clear error and leaves nothing behind
{ topo_front_conf "$TMP/ctl.sock"; printf 'metrics = 9731\n'; } >"$CONF"
topo_bg "$NS_F" python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9731)); s.listen(1); time.sleep(60)'
topo_wait 50 sh -c "ip netns exec $NS_F ss -ltn | grep -q 127.0.0.1:9731"
expect "a taken metrics port stops the start with the reason" \
    'metrics 127\.0\.0\.1:9731: Address already in use' \
    timeout 20 ip netns exec "$NS_F" "$BIN" run -c "$CONF"
if [ "$(inF ip rule show | grep -c 'proto 222')" = 0 ]; then ok "and leaves no rules behind"
else not_ok "and leaves no rules behind"; fi
kill "${TOPO_PIDS[-1]}" 2>/dev/null

topo_front_conf "$TMP/ctl.sock" >"$CONF"
start || not_ok "front without metrics did not come up"
refute "metrics are off by default: nothing listens" 'LISTEN' inF ss -ltn 'sport = :9731'
stop

# ---------------------------------------------------------------- check, stopped front
run_check
expect "check with a clean host: configuration OK" 'configuration OK' out

inF sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=1
run_check
expect "ip_forward 0: note with the permanent fix" \
    "note: net\.ipv4\.ip_forward is 0; tunrelay run sets it to 1 \(to keep it across reboots: echo 'net\.ipv4\.ip_forward = 1' > /etc/sysctl\.d/90-tunrelay\.conf\)" out
expect "strict rp_filter: note" 'note: net\.ipv4\.conf\.all\.rp_filter is 1; tunrelay run copies it' out
expect "notes do not fail the check" '^rc=0$' out
inF sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0

inF nft -f - <<'EOF'
table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat;
		iifname "f-eth0" tcp dport != 22 dnat to 10.22.22.1
	}
	chain POSTROUTING {
		type nat hook postrouting priority srcnat;
		oifname "f-wg0" masquerade
		oifname "other0" masquerade
	}
}
table inet filter {
	chain forward {
		type filter hook forward priority 0; policy drop;
	}
}
EOF
run_check
expect "old nft DNAT on the public interface: error with inspect and remove" \
    'nftables chain ip nat PREROUTING \(hook prerouting\) holds 1 dnat rule .*inspect: nft -a list chain ip nat PREROUTING; remove: nft delete rule ip nat PREROUTING handle [0-9]+\)' out
expect "old nft MASQUERADE on the tunnel: error" \
    'nftables chain ip nat POSTROUTING \(hook postrouting\) holds 1 masquerade rule ' out
expect "forward chain with policy drop: warning with the accept rules" \
    'warning: nftables chain inet filter forward \(hook forward\) drops by default.*nft insert rule inet filter forward iifname "trl-\*" accept' out
expect "NAT leftovers fail the check" '^rc=1$' out
inF nft flush ruleset
inF nft add table ip nat
inF nft 'add chain ip nat post { type nat hook postrouting priority srcnat; }'
inF nft add rule ip nat post oifname "other0" masquerade
inF nft add rule ip nat post oifname "x-*" masquerade
run_check
refute "a MASQUERADE on other interfaces (name, wildcard) is not reported" 'masquerade' out
inF nft add rule ip nat post oifname "f-*" masquerade
run_check
expect "a MASQUERADE on a wildcard that matches the tunnel is reported" \
    'nftables chain ip nat post \(hook postrouting\) holds 1 masquerade rule' out
inF nft flush ruleset

if command -v iptables-legacy >/dev/null; then
	inF iptables-legacy -t nat -A PREROUTING -p tcp --dport 81 -j DNAT --to-destination 10.22.22.1
	inF iptables-legacy -P FORWARD DROP
	run_check
	expect "legacy iptables nat rules: warning with inspect and remove" \
	    'warning: the legacy iptables nat table \(IPv4\) holds 1 entries .*inspect: iptables-legacy -t nat -S' out
	expect "legacy FORWARD policy DROP: warning with the accept rules" \
	    'warning: the legacy iptables FORWARD policy is DROP.*iptables-legacy -I FORWARD -i trl-\+ -j ACCEPT' out
	inF iptables-legacy -t nat -F
	inF iptables-legacy -P FORWARD ACCEPT
else
	echo "# iptables-legacy not installed: legacy findings not tested"
fi

inF ip link set f-wg0 mtu 1200
{ topo_front_conf "$TMP/ctl.sock" | sed 's/^mss_clamp = pmtu/mss_clamp = off/'; } >"$TMP/nomss.ini"
run_check "$TMP/nomss.ini"
expect "tunnel MTU below 1280 with IPv6: error with the fix" \
    'tunnel_interface f-wg0 has MTU 1200, below IPv6.s minimum of 1280.*fix: ip link set f-wg0 mtu 1280' out
expect "mss_clamp off with a smaller tunnel: warning, fix mss_clamp = pmtu" \
    'warning: mss_clamp = off and the tunnel f-wg0 \(MTU 1200\) is smaller than f-eth0 \(MTU 1500\).*\(fix: mss_clamp = pmtu\)' out
inF ip link set f-wg0 mtu 1420
run_check
expect "smaller tunnel MTU with clamping: note about UDP" \
    'note: the tunnel f-wg0 \(MTU 1420\) is smaller than f-eth0 \(MTU 1500\): TCP is clamped' out

inB nft add table inet drop_ping
inB nft 'add chain inet drop_ping in { type filter hook input priority 0; }'
inB nft add rule inet drop_ping in icmp type echo-request drop
inB nft add rule inet drop_ping in icmpv6 type echo-request drop
run_check
expect "silent backend: warning with the ping to try" \
    'warning: backend 10\.22\.22\.1 did not answer a ping within 1000 ms.*test: ping -c 3 10\.22\.22\.1' out
inB nft delete table inet drop_ping

inB ip link set b-wg0 down
run_check
expect "tunnel without carrier: error" \
    'tunnel_interface f-wg0 is up but has no carrier: the tunnel is not connected' out
inB ip link set b-wg0 up
inF ip link set f-wg0 down
run_check
expect "tunnel down: error with the fix" \
    'tunnel_interface f-wg0 is down \(fix: ip link set f-wg0 up\)' out
expect "tunnel down fails the check" '^rc=1$' out
inF ip link set f-wg0 up
topo_wait 50 inF ping -c 1 -W 1 10.22.22.1

inF ip rule add pref 500 iif f-eth0 lookup main
{ topo_front_conf "$TMP/ctl.sock"; printf '\n[forward.game]\nproto = udp\nlisten = 40000-40010\nto = 10.22.22.1\n'; } >"$TMP/fwd.ini"
run_check "$TMP/fwd.ini"
expect "a rule before tunrelay's: warning with the fix" \
    'warning: ip rule "500: from all iif f-eth0 lookup main" comes before tunrelay.s rules.*ip rule del pref 500' out
expect "forward in the ephemeral range: warning with the fix" \
    "warning: \[forward\.game\] listen 40000-40010 overlaps the kernel's ephemeral ports 32768-60999.*sysctl -w net\.ipv4\.ip_local_port_range='40011 60999'" out
inF ip rule del pref 500

# the host's own services on relayed ports: a tunnel's UDP port, a web server
topo_bg "$NS_F" python3 -c 'import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 1194))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM); t.bind(("198.51.100.1", 8443)); t.listen(1)
time.sleep(30)'
LPID=${TOPO_PIDS[-1]}
topo_wait 50 sh -c "ip netns exec $NS_F ss -ltn | grep -q '198.51.100.1:8443 '"
run_check
expect "a local UDP socket on a relayed port: warning naming its process, fix exclude" \
    "warning: udp/1194 on f-eth0 is relayed, but python3 \(pid [0-9]+\) receives on it here.*fix: exclude = udp/1194\)" out
expect "a local TCP listener on a relayed port: warning" \
    'warning: tcp/8443 on f-eth0 is relayed, but python3 \(pid [0-9]+\) listens on it here' out
refute "an excluded port (the front's ssh on tcp/22) is not reported" 'tcp/22 on f-eth0 is relayed' out
refute "a loopback listener (metrics) is not reported" 'tcp/9731 on' out
kill "$LPID" 2>/dev/null

# ---------------------------------------------------------------- check, backend
cat >"$TMP/back.ini" <<EOF
[back]
tunnel_interface = b-wg0
front = 10.22.22.2
control_socket = $TMP/back.sock
EOF
inB nft add table ip oldnat
inB nft 'add chain ip oldnat post { type nat hook postrouting priority srcnat; }'
inB nft add rule ip oldnat post oifname "b-wg0" masquerade
CHECK_NS=$NS_B run_check "$TMP/back.ini"
expect "backend: the old recipe's fwmark rule is reported with the fix" \
    'warning: ip rule "[0-9]+: from all fwmark 0x1(/0xffffffff)? lookup 100" looks like the manual keep-client-ip recipe.*fix: ip rule del pref [0-9]+' out
expect "backend: a MASQUERADE on the tunnel is reported" \
    'warning: nftables chain ip oldnat post \(hook postrouting\) holds 1 masquerade rule' out

# ---------------------------------------------------------------- back stats
inB nft delete table ip oldnat
ip netns exec "$NS_B" "$BIN" run -c "$TMP/back.ini" >>"$TMP/back.log" 2>&1 &
BPID=$!
topo_wait 100 inB "$BIN" stats -c "$TMP/back.ini"
expect "back: tunrelay stats shows the mode" '^mode connmark$' inB "$BIN" stats -c "$TMP/back.ini"
expect "back: no repairs yet" '^repairs 0$' inB "$BIN" stats -c "$TMP/back.ini"
expect "back: tunrelay flows explains there are none" 'the back half tracks no flows' inB "$BIN" flows -c "$TMP/back.ini"
inB ip rule del pref 1400
topo_wait 30 sh -c "ip netns exec $NS_B $BIN stats -c $TMP/back.ini | grep -q '^rules_restored [1-9]'"
expect "back: a deleted rule is counted as restored" '^rules_restored [1-9]' inB "$BIN" stats -c "$TMP/back.ini"
expect "back: and as a repair" '^repairs [1-9]' inB "$BIN" stats -c "$TMP/back.ini"
kill -TERM "$BPID"; wait "$BPID" 2>/dev/null; rc=$?; BPID=
[ "$rc" = 0 ] || not_ok "the back exits 0 on SIGTERM (exit $rc)"
check "back: control socket removed at exit" test ! -e "$TMP/back.sock"
# a sanitizer build reports into the daemons' logs
refute "no sanitizer reports from the daemons" 'Sanitizer|runtime error' cat "$TMP/front.log" "$TMP/back.log"

echo "# $pass passed, $fail failed"
[ "$fail" -eq 0 ]
