#!/bin/bash
# End-to-end: SIGKILL and an immediate restart (as a supervisor does), and
# `tunrelay restart` (the binary executed again in the same process), in the
# middle of a transfer, with `source = keep` (the default backend catch-all)
# on keep-client-ip (tests/e2e/topo.sh), tunrelay on both sides (the back half in
# connmark mode). For the front, then for the back half: a 40 MB download
# (the backend's server talks, the client only ACKs) and a 40 MB upload,
# each paced over about 6 s, the half killed 2 s in and started again at
# once. Every transfer must complete byte-identical (tests/e2e/bulk.py: a
# pattern seeded by the client's port, checked at the receiving end), and
# after each restart the same kernel objects of ours exist, none duplicated.
# A download survives the front's restart only if the engine picks a flow up
# from the backend's side (its retransmissions), not only from the client's.
# A new instance reconciles the rules it finds: it adds before it removes,
# and removes nothing it would add again (no window in which the host's own
# stack would answer relayed packets). The sysctls a restarted instance
# found are put back at the final stop as the first instance found them.
# `tunrelay restart` hands the TUN devices to the new image: the same
# devices (same interface index), and a UDP stream through the front while
# it restarts loses no datagram, either way (they wait in the devices).
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init restart ip nft python3 ethtool

MB=40
SIZE=$((MB * 1024 * 1024))
RATE=7		# MB/s: a 40 MB transfer takes about 6 s
LIMIT=40	# seconds a transfer may take, restart included

FCONF=$TMP/front.ini
BCONF=$TMP/back.ini

e2e_watchdog 300

stat() { inF "$BIN" stats -c "$FCONF" | awk -v k="$1" '$1 == k { print $2 }'; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
topo_bg "$NS_B" python3 "$BULK" serve 10.22.22.1 81 82 "$SIZE" "$RATE"
topo_wait 50 sh -c "ip netns exec $NS_B ss -ltn | grep -q ':82 '"
topo_bg "$NS_B" python3 "$PEER" serve-echo 10.22.22.1 83
topo_front_conf "$TMP/ctl.sock" >"$FCONF"
topo_back_conf "$TMP/back.sock" >"$BCONF"
fwd0=$(inF sysctl -n net.ipv4.ip_forward)
svm0=$(inB sysctl -n net.ipv4.conf.all.src_valid_mark)
topo_start_front || { not_ok "front did not come up"; cat "$TMP/front.log"; exit 1; }
topo_start_back || { not_ok "back did not come up"; cat "$TMP/back.log"; exit 1; }
expect "both halves up: the backend sees the client" '^peer=198\.51\.100\.10 ' \
    inC python3 "$PEER" tcp-who 198.51.100.1 80
topo_objects | sort >"$TMP/objects.0"
echo "# kernel objects of ours: $(wc -l <"$TMP/objects.0")"

# kill_mid HALF WAY [restart]: SIGKILL that half 2 s into a paced download
# (get) or upload (put) and restart it at once, or with "restart" ask it to
# restart itself (tunrelay restart); the transfer must complete
kill_mid() {
	local half=$1 way=$2 how=${3:-kill} out=$TMP/$1-$2-${3:-kill}.out port=81 rate=
	local log=$TMP/$half.log n0 pid0
	[ "$way" = put ] && { port=82; rate=$RATE; }
	rm -f "$TMP/ready"
	# shellcheck disable=SC2086 # $rate: the upload's pace, or nothing
	ip netns exec "$NS_C" python3 "$BULK" "$way" 198.51.100.1 "$port" "$SIZE" "$LIMIT" "$TMP/ready" $rate >"$out" 2>&1 &
	local t=$! t0=$SECONDS nf0 nf1
	nf0=$(stat drop_no_flow)
	topo_wait 50 test -e "$TMP/ready"
	sleep 2
	n0=$(wc -l <"$log")
	if [ "$how" = restart ]; then
		local conf=$FCONF ns=$NS_F
		[ "$half" = back ] && { conf=$BCONF; ns=$NS_B; }
		pid0=$FPID; [ "$half" = back ] && pid0=$BPID
		expect "tunrelay restart of the $half mid-transfer: restarted" '^restarted .* connections kept' \
		    ip netns exec "$ns" timeout 40 "$BIN" restart -c "$conf"
		if kill -0 "$pid0" 2>/dev/null; then ok "tunrelay restart of the $half: the same process ($pid0)"
		else not_ok "tunrelay restart of the $half: process $pid0 gone"; fi
		tail -n +"$((n0 + 1))" "$log" | python3 -c 'import sys, datetime as d
t = {}
for l in sys.stdin:
    for k in ("SIGUSR2: restarting", "ready:"):
        if k in l and k not in t:
            t[k] = d.datetime.strptime(l[:23], "%Y-%m-%dT%H:%M:%S.%f")
if len(t) == 2:
    print("# %s restart: %.0f ms from SIGUSR2 to ready" % (sys.argv[1], (t["ready:"] - t["SIGUSR2: restarting"]).total_seconds() * 1000))' "$half"
		[ "$half" = front ] && nf0=0
	elif [ "$half" = front ]; then
		kill -9 "$FPID"; wait "$FPID" 2>/dev/null; FPID=
		topo_start_front || not_ok "front restart after SIGKILL"
		nf0=0	# a new instance counts from 0
	else
		kill -9 "$BPID"; wait "$BPID" 2>/dev/null; BPID=
		topo_start_back || not_ok "back restart after SIGKILL"
	fi
	local what=download; [ "$way" = put ] && what=upload
	local verb="SIGKILL of the $half mid-$what, restart"
	[ "$how" = restart ] && verb="tunrelay restart of the $half mid-$what"
	if wait "$t"; then ok "$verb: $MB MB byte-identical ($(cat "$out"), $((SECONDS - t0)) s)"
	else not_ok "$verb: $(cat "$out")"; fi
	# the same file: nothing to remove, and nothing removed to be added again
	if tail -n +"$((n0 + 1))" "$log" | grep -q 'removed'; then
		not_ok "$verb: the new instance removed objects it found: $(tail -n +"$((n0 + 1))" "$log" | grep 'removed' | head -3)"
	else ok "$verb: the new instance kept every object it found (make before break)"; fi
	nf1=$(stat drop_no_flow)
	echo "# $half restarted mid-$what: the front's drop_no_flow +$((${nf1:-0} - ${nf0:-0}))"
	topo_objects | sort >"$TMP/objects.1"
	if cmp -s "$TMP/objects.0" "$TMP/objects.1"; then ok "after the $half's restart: the same $(wc -l <"$TMP/objects.1") kernel objects, none duplicated"
	else not_ok "kernel objects differ after the $half's restart: $(diff "$TMP/objects.0" "$TMP/objects.1" | head -5)"; fi
}
# udp_restart: a UDP stream through the front (400 datagrams a second, each
# echoed by the backend) while `tunrelay restart` runs; none may be lost
udp_restart() {
	local out=$TMP/udp-restart.out idx0 idx1 n0 t
	idx0=$(inF cat /sys/class/net/trl-pub/ifindex /sys/class/net/trl-in/ifindex | tr '\n' ' ')
	n0=$(wc -l <"$TMP/front.log")
	rm -f "$TMP/ready"
	ip netns exec "$NS_C" python3 "$BULK" udp-stream 198.51.100.1 83 2000 400 "$TMP/ready" >"$out" 2>&1 &
	t=$!
	topo_wait 50 test -e "$TMP/ready"
	sleep 1.5
	expect "tunrelay restart of the front mid-UDP-stream: restarted" '^restarted .* connections kept' \
	    ip netns exec "$NS_F" timeout 40 "$BIN" restart -c "$FCONF"
	if wait "$t"; then ok "UDP through tunrelay restart: no datagram lost ($(cat "$out"))"
	else not_ok "UDP through tunrelay restart: $(cat "$out")"; fi
	idx1=$(inF cat /sys/class/net/trl-pub/ifindex /sys/class/net/trl-in/ifindex | tr '\n' ' ')
	if [ "$idx0" = "$idx1" ]; then ok "tunrelay restart: the same TUN devices (ifindex $idx1)"
	else not_ok "tunrelay restart: TUN devices changed (ifindex $idx0-> $idx1)"; fi
	expect "tunrelay restart: the new image took the devices over" 'took over trl-pub.*took over trl-in|took over trl-in.*took over trl-pub' \
	    sh -c "tail -n +$((n0 + 1)) '$TMP/front.log' | grep 'took over' | tr '\n' ' '"
}

# tunrelay restart first: the sysctl values found before the first start
# must be put back at the end (after a SIGKILL nobody knows them any more)
kill_mid front get restart
kill_mid front put restart
kill_mid back get restart
udp_restart
kill -TERM "$FPID"; wait "$FPID"; FPID=
kill -TERM "$BPID"; wait "$BPID"; BPID=
expect "front stopped after tunrelay restart: ip_forward put back to $fwd0" "^$fwd0\$" inF sysctl -n net.ipv4.ip_forward
expect "back stopped after tunrelay restart: src_valid_mark put back to $svm0" "^$svm0\$" inB sysctl -n net.ipv4.conf.all.src_valid_mark
topo_start_front || not_ok "front did not come up again"
topo_start_back || not_ok "back did not come up again"
kill_mid front get
kill_mid front put
kill_mid back get
kill_mid back put

expect "after the restarts: still relayed, the backend sees the client" '^peer=198\.51\.100\.10 ' \
    inC python3 "$PEER" tcp-who 198.51.100.1 80
kill -TERM "$FPID"; wait "$FPID"; rc=$?; FPID=
if [ "$rc" = 0 ]; then ok "front: SIGTERM, exit 0"; else not_ok "front: exit $rc on SIGTERM"; fi
kill -TERM "$BPID"; wait "$BPID"; rc=$?; BPID=
if [ "$rc" = 0 ]; then ok "back: SIGTERM, exit 0"; else not_ok "back: exit $rc on SIGTERM"; fi
if [ -z "$(topo_objects)" ]; then ok "both halves stopped: no kernel object of ours left"
else not_ok "objects left: $(topo_objects | head -5)"; fi
refute() { if "${@:3}" 2>/dev/null | grep -Eq -- "$2"; then not_ok "$1"; else ok "$1"; fi; }
refute "no sanitizer reports from the daemons" 'Sanitizer|runtime error' cat "$TMP/front.log" "$TMP/back.log"
if [ "$fail" -gt 0 ]; then
	echo "--- front log"; grep -v "added\|removed\|restored\|put back" "$TMP/front.log" | tail -n 20
	echo "--- back log"; grep -v "added\|removed\|restored\|put back" "$TMP/back.log" | tail -n 10
fi
e2e_summary
