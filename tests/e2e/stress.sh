#!/bin/bash
# End-to-end stress ("no connection is ever lost"): keep-client-ip
# (tests/e2e/topo.sh) with tunrelay on both sides (the back half in connmark
# mode), for queues = 2 and queues = 4, while a CPU hog keeps one core busy:
#  - 100 downloads (the backend's server talks first: SIZE bytes, the client
#    only reads) and 100 uploads of SIZE bytes, PAR at a time, each with a
#    time limit; every transfer must complete with the exact byte count and
#    content (tests/e2e/bulk.py: a pattern seeded by the client's port, checked
#    at the receiving end); one not done within its limit is a stall;
#  - the front's drop_no_flow stays 0, and flows_created is the number of
#    distinct (client port, server port) tuples, SLACK more at most: one flow
#    per connection, but a port the client takes again for the same server
#    port reopens the flow of its tuple (in time_wait) in place. A flow lost
#    under a live connection and picked up again (reply-side pickup hides it
#    from the transfer and from drop_no_flow) counts twice.
# SIZE is 20 MB; with a sanitizer build (or TUNRELAY_SANITIZERS=1) 10 MB, so
# that the script stays within its time: the number of transfers stays.
# STRESS_MB and STRESS_COUNT override the size and the count.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init stress ip nft python3 ethtool taskset timeout

COUNT=${STRESS_COUNT:-100}	# downloads, and as many uploads, per setting
PAR=4				# transfers at a time
LIMIT=20			# seconds a transfer may take before it is a stall
MB=20
# measured on 2 CPUs: about 95 s with 20 MB a transfer; 145 s with an ASan
# build, which runs with the other tests in CI: 10 MB there
if [ -n "${TUNRELAY_SANITIZERS:-}" ] || grep -qa __asan_init "$BIN"; then
	MB=10
fi
MB=${STRESS_MB:-$MB}
[ "$MB" = 20 ] || echo "# $MB MB per transfer (sanitizer build, or STRESS_MB)"
SIZE=$((MB * 1024 * 1024))
# an extra flow or two per setting at most: a retransmitted FIN or ACK that
# comes after its closed flow was swept is picked up as a flow of its own
# (not seen in any run so far: flows_created was the tuple count exactly)
SLACK=2

FCONF=$TMP/front.ini
BCONF=$TMP/back.ini

e2e_watchdog 420

stat() { inF "$BIN" stats -c "$FCONF" | awk -v k="$1" '$1 == k { print $2 }'; }
start_front() {
	{ topo_front_conf "$TMP/ctl.sock"; echo "queues = $1"; } >"$FCONF"
	ip netns exec "$NS_F" "$BIN" run -c "$FCONF" >>"$TMP/front.log" 2>&1 &
	FPID=$!
	topo_wait 100 inF "$BIN" stats -c "$FCONF"
}
stop_front() {
	kill -TERM "$FPID"; wait "$FPID"; local rc=$?; FPID=
	return "$rc"
}
start_back() {
	ip netns exec "$NS_B" "$BIN" run -c "$BCONF" >>"$TMP/back.log" 2>&1 &
	BPID=$!
	topo_wait 100 grep -q 'ready:' "$TMP/back.log"
}
# field NAME WAY FILE: a count of bulk.py's summary ("dl ok=100 stall=0 ...")
field() { sed -n "s/^$2 .*\\<$1=\\([0-9]*\\).*/\\1/p" "$3"; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
topo_bg "$NS_B" python3 "$BULK" serve 10.22.22.1 81 82 "$SIZE"
topo_wait 50 sh -c "ip netns exec $NS_B ss -ltn | grep -q ':82 '"
topo_back_conf "$TMP/back.sock" >"$BCONF"
start_back || { not_ok "back did not come up"; cat "$TMP/back.log"; exit 1; }

# the hog: a busy loop on one CPU for as long as the script may run
taskset -c 0 timeout 420 sh -c 'while :; do :; done' &
HOG=$!
TOPO_PIDS+=("$HOG")
echo "# CPU hog on CPU 0 (pid $HOG); $COUNT downloads and $COUNT uploads of $MB MB per setting, $PAR at a time, ${LIMIT} s each"

t_start=$SECONDS
for q in 2 4; do
	if ! start_front "$q"; then
		not_ok "queues=$q: front did not come up"; cat "$TMP/front.log"; continue
	fi
	nq=$(inF ls /sys/class/net/trl-pub/queues | grep -c '^tx-')
	if [ "$nq" = "$q" ]; then ok "queues=$q: trl-pub has $nq queues"
	else not_ok "queues=$q: trl-pub has $nq queues"; fi
	expect "queues=$q: relayed, the backend sees the client" '^peer=198\.51\.100\.10 ' \
	    inC python3 "$PEER" tcp-who 198.51.100.1 80
	nf0=$(stat drop_no_flow)
	fc0=$(stat flows_created)
	t0=$SECONDS
	inC timeout $((COUNT * 2 * LIMIT / PAR + 60)) python3 "$BULK" run 198.51.100.1 81 82 "$SIZE" "$COUNT" "$PAR" "$LIMIT" >"$TMP/run.$q" 2>&1
	dt=$((SECONDS - t0))
	nf1=$(stat drop_no_flow)
	fc1=$(stat flows_created)
	grep '^# ' "$TMP/run.$q" | head -n 10
	for way in dl ul; do
		n=$(field ok "$way" "$TMP/run.$q")
		st=$(field stall "$way" "$TMP/run.$q")
		bad=$(( $(field bad "$way" "$TMP/run.$q") + $(field error "$way" "$TMP/run.$q") ))
		name=downloads; [ "$way" = ul ] && name=uploads
		echo "# queues=$q $name: completed ${n:-0} of $COUNT, stalled ${st:-?}, wrong or failed $bad"
		if [ "${n:-0}" = "$COUNT" ]; then ok "queues=$q: $COUNT of $COUNT $name complete, every byte checked"
		else not_ok "queues=$q: ${n:-0} of $COUNT $name complete (${st:-?} stalled, $bad wrong or failed)"; fi
	done
	conns=$((2 * COUNT))
	tuples=$(sed -n 's/^tuples //p' "$TMP/run.$q")
	echo "# queues=$q: drop_no_flow $((nf1 - nf0)), flows_created $((fc1 - fc0)) for $conns connections on ${tuples:-?} tuples, $dt s (bulk.py: $(sed -n 's/^elapsed //p' "$TMP/run.$q"))"
	if [ "$((nf1 - nf0))" = 0 ]; then ok "queues=$q: drop_no_flow stays 0"
	else not_ok "queues=$q: drop_no_flow $((nf1 - nf0))"; fi
	tuples=${tuples:-$conns}
	if [ "$((fc1 - fc0))" -ge "$tuples" ] && [ "$((fc1 - fc0))" -le $((tuples + SLACK)) ]; then
		ok "queues=$q: flows_created $((fc1 - fc0)) for $conns connections on $tuples tuples"
	else
		not_ok "queues=$q: flows_created $((fc1 - fc0)) for $conns connections on $tuples tuples (want $tuples..$((tuples + SLACK)))"
	fi
	if [ "$fail" -gt 0 ]; then
		echo "--- flows not closed (queues=$q)"
		inF "$BIN" flows -c "$FCONF" | grep -v 'time_wait\|closed' | head -n 10
	fi
	if stop_front; then ok "queues=$q: SIGTERM, exit 0"; else not_ok "queues=$q: exit status on SIGTERM"; fi
done
kill "$HOG" 2>/dev/null
echo "# both settings: $((SECONDS - t_start)) s"

kill -TERM "$BPID"; wait "$BPID"; BPID=
refute() { if "${@:3}" 2>/dev/null | grep -Eq -- "$2"; then not_ok "$1"; else ok "$1"; fi; }
refute "no sanitizer reports from the daemons" 'Sanitizer|runtime error' cat "$TMP/front.log" "$TMP/back.log"
if [ "$fail" -gt 0 ]; then echo "--- front log"; grep -v "added\|removed\|restored\|put back" "$TMP/front.log" | tail -n 20; echo "--- back log"; tail -n 10 "$TMP/back.log"; fi
e2e_summary
