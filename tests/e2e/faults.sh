#!/bin/bash
# End-to-end: faults, with tunrelay on both sides of the keep-client-ip relay
# (tests/e2e/topo.sh; the back half in connmark mode).
#  - SIGKILL of the front, then of the back, in the middle of a TCP
#    transfer, and an immediate supervisor-style restart: the transfer
#    completes byte-identical (mid-stream pickup) and no kernel object is
#    duplicated.
#  - The tunnel interface removed and re-created; an address added to and
#    removed from the public interface: the relay keeps running, says what
#    happened, and relays again without a SIGHUP.
#  - The control socket's peer hanging up in the middle of a long reply.
#  - stderr not writable (a full disk, a stalled journal): the relay keeps
#    relaying and counts the lost lines.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init faults ip nft python3 ethtool
FCONF=$TMP/front.ini
BCONF=$TMP/back.ini
FAULTS=0

e2e_watchdog 240

who() { inC python3 "$PEER" tcp-who 198.51.100.1 80; }


topo_up || { echo "not ok - topology"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
topo_front_conf "$TMP/ctl.sock" >"$FCONF"
topo_back_conf "$TMP/back.sock" >"$BCONF"
topo_start_front || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
topo_start_back || { not_ok "back did not come up"; cat "$TMP/back.log"; exit 1; }
expect "both halves up: backend sees the client" '^peer=198\.51\.100\.10 ' who
topo_objects | sort >"$TMP/objects.0"
echo "# kernel objects of ours: $(wc -l <"$TMP/objects.0")"

# kill_mid WHO: SIGKILL that half 2 s into a 6 s transfer, restart at once
kill_mid() {
	local half=$1 out=$TMP/kill-$1.out
	rm -f "$TMP/ready"
	ip netns exec "$NS_C" python3 "$CRAFT" send-paced 198.51.100.1 80 24 6 "$TMP/ready" >"$out" 2>&1 &
	local t=$!
	topo_wait 50 test -e "$TMP/ready"
	sleep 2
	if [ "$half" = front ]; then
		kill -9 "$FPID"; wait "$FPID" 2>/dev/null; FPID=
		topo_start_front || not_ok "front restart after SIGKILL"
	else
		kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
		topo_start_back || not_ok "back restart after SIGKILL"
	fi
	FAULTS=$((FAULTS + 1))
	if wait "$t"; then ok "SIGKILL of the $half mid-transfer, restart: transfer complete ($(cat "$out"))"
	else not_ok "SIGKILL of the $half mid-transfer: $(cat "$out")"; fi
	topo_objects | sort >"$TMP/objects.1"
	if cmp -s "$TMP/objects.0" "$TMP/objects.1"; then ok "after the $half's restart: the same $(wc -l <"$TMP/objects.1") kernel objects, none duplicated"
	else not_ok "kernel objects differ after the $half's restart: $(diff "$TMP/objects.0" "$TMP/objects.1" | head -5)"; fi
}
kill_mid front
kill_mid back

# --- the tunnel interface removed and re-created ---------------------------------
inF ip link del f-wg0
FAULTS=$((FAULTS + 1))
topo_wait 50 grep -q 'tunnel_interface f-wg0 is gone' "$TMP/front.log"
expect "tunnel removed: the relay says so" 'tunnel_interface f-wg0 is gone' cat "$TMP/front.log"
if kill -0 "$FPID" 2>/dev/null; then ok "tunnel removed: the relay keeps running"; else not_ok "tunnel removed: the relay died"; fi
expect "tunnel removed: port 22 on the front still answers" '^front-ssh$' inC python3 "$PEER" tcp-line 198.51.100.1 22
topo_tunnel_veth
topo_wait 50 grep -q 'tunnel_interface f-wg0 is back' "$TMP/front.log"
expect "tunnel re-created: the relay says so" 'tunnel_interface f-wg0 is back' cat "$TMP/front.log"
topo_wait 50 sh -c "ip netns exec $NS_C python3 $PEER tcp-who 198.51.100.1 80 | grep -q '^peer=198'"
expect "tunnel re-created: relaying again, no SIGHUP" '^peer=198\.51\.100\.10 ' who

# --- the public address changes --------------------------------------------------
inF ip addr add 198.51.100.5/24 dev f-eth0
FAULTS=$((FAULTS + 1))
topo_wait 50 sh -c "ip netns exec $NS_F ip rule show | grep -q 'to 198.51.100.5 '"
expect "public address added: the relay says so" 'public_interface f-eth0: its addresses changed' cat "$TMP/front.log"
expect "public address added: relayed at once" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.5 80
inF ip addr del 198.51.100.5/24 dev f-eth0
FAULTS=$((FAULTS + 1))
topo_wait 50 sh -c "! ip netns exec $NS_F ip rule show | grep -q 'to 198.51.100.5 '"
if inF ip rule show | grep -q 'to 198.51.100.5 '; then not_ok "public address removed: its rules stay"
else ok "public address removed: its capture rules are gone"; fi
expect "public address removed: the first address still relays" '^peer=198\.51\.100\.10 ' who

# --- the control socket's peer hangs up mid-reply ---------------------------------
FMAC=$(inF cat /sys/class/net/f-eth0/address)
inC python3 "$CRAFT" synflood c-eth0 "$FMAC" 198.51.100.1 80 3000 3000 >/dev/null
nflows=$(inF "$BIN" stats -c "$FCONF" | awk '$1 == "flows_active" { print $2 }')
echo "# flows tracked for the long listing: $nflows"
for _ in $(seq 1 20); do
	inF python3 "$CRAFT" ctl-cut "$TMP/ctl.sock" flows 200 >/dev/null 2>&1
done
FAULTS=$((FAULTS + 20))
if kill -0 "$FPID" 2>/dev/null; then ok "20 listings cut after 200 bytes: the relay keeps running"
else not_ok "the relay died when a control client hung up"; fi
n=$(inF "$BIN" flows -c "$FCONF" | wc -l)
if [ "$n" -ge "$nflows" ]; then ok "a full listing still works afterwards ($n flows)"
else not_ok "full listing afterwards: $n lines, want >= $nflows"; fi
expect "relaying after the cut listings" '^peer=198\.51\.100\.10 ' who

# --- stderr not writable ----------------------------------------------------------
kill -TERM "$FPID"; wait "$FPID"; FPID=
# a full disk: every write fails with ENOSPC
ip netns exec "$NS_F" "$BIN" run -c "$FCONF" 2>/dev/full &
FPID=$!
FAULTS=$((FAULTS + 1))
topo_wait 100 inF "$BIN" stats -c "$FCONF"
expect "stderr on a full disk: relaying" '^peer=198\.51\.100\.10 ' who
expect "stderr on a full disk: lost lines counted" '^log_lines_lost [1-9]' inF "$BIN" stats -c "$FCONF"
kill -TERM "$FPID"; wait "$FPID"; rc=$?; FPID=
if [ "$rc" = 0 ]; then ok "stderr on a full disk: clean exit"; else not_ok "stderr on a full disk: exit $rc"; fi
# a stalled journal: a stream socket nobody reads
ip netns exec "$NS_F" python3 "$CRAFT" stalled-stderr "$TMP/stalled.pid" "$BIN" run -v -c "$FCONF" &
STALL=$!
TOPO_PIDS+=("$STALL")
FAULTS=$((FAULTS + 1))
topo_wait 100 test -s "$TMP/stalled.pid"
FPID=$(cat "$TMP/stalled.pid")
topo_wait 100 inF "$BIN" stats -c "$FCONF"
# SIGHUPs make the relay log; enough of them fill the socket's buffer
for _ in $(seq 1 60); do kill -HUP "$FPID"; sleep 0.02; done
topo_wait 100 sh -c "ip netns exec $NS_F $BIN stats -c $FCONF | grep -q '^log_lines_lost [1-9]'"
expect "stalled journal: the relay still answers and relays" '^peer=198\.51\.100\.10 ' who
expect "stalled journal: lost lines counted" '^log_lines_lost [1-9]' inF "$BIN" stats -c "$FCONF"
kill -TERM "$FPID"
topo_wait 100 sh -c "! kill -0 $FPID 2>/dev/null"
if kill -0 "$FPID" 2>/dev/null; then not_ok "stalled journal: SIGTERM did not stop it"; else ok "stalled journal: SIGTERM stops it"; fi
FPID=
kill "$STALL" 2>/dev/null

kill -TERM "$BPID"; wait "$BPID"; BPID=
if [ -z "$(topo_objects)" ]; then ok "both halves stopped: no kernel object of ours left"
else not_ok "objects left: $(topo_objects | head -5)"; fi
echo "# faults injected: $FAULTS"
if [ "$fail" -gt 0 ]; then echo "--- front log"; grep -v "added\|removed\|restored" "$TMP/front.log" | tail -n 40; echo "--- back log"; tail -n 20 "$TMP/back.log"; fi
e2e_summary
