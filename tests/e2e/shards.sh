#!/bin/bash
# End-to-end test of the engine's shards (one per queue) where they are
# hardest: full NAT on a single NIC (the relay picks the port B answers to,
# so each shard must hand out ports of its own shard, or the reply lands
# in the wrong shard and is lost) and hairpin (full NAT for every client,
# and the example's, where outside clients keep their address to targets on
# the LAN, whose replies come back on the LAN side), with queues = 2, in three
# setups: eBPF steering (the kernel puts a flow on its shard's queue), bpf()
# denied (the kernel's own spreading: packets cross to another queue's shard
# under its lock) and shards = 1 (one engine, one lock). In each: downloads
# (the server talks first) and uploads checked byte for byte, 24 TCP and 24
# UDP flows from chosen client ports whose relay port must have the client
# port's shard, hairpinned LAN clients, drop_no_flow 0, clean SIGTERM.
# Topologies: tests/e2e/topo_fwd.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init shards ip python3 ethtool
# shellcheck source=tests/e2e/topo_fwd.sh
. "$here/topo_fwd.sh"

e2e_watchdog 300
DENY=${top_builddir:-$here/../..}/tests/e2e/deny
COUNT=${SHARDS_COUNT:-30}
MB=2
export BULK_SEED=7	# full NAT: B sees the relay's port, not the client's

# start NS CONF LOG [WRAPPER...]: the relay; $DPID is the relay itself
start() {
	local ns=$1 conf=$2 log=$3; shift 3
	ip netns exec "$ns" "$@" "$BIN" run -c "$conf" >>"$log" 2>&1 &
	DPID=$!
	topo_wait 100 ip netns exec "$ns" "$BIN" stats -c "$conf"
}
# stop WHAT NS: SIGTERM, exit 0, no device left
stop() {
	local rc
	kill -TERM "$DPID"
	topo_wait 200 sh -c "! kill -0 $DPID" || kill -9 "$DPID"
	wait "$DPID"; rc=$?; DPID=
	if [ "$rc" = 0 ]; then ok "$1: SIGTERM: exit 0"; else not_ok "$1: SIGTERM: exit $rc"; fi
	if ip netns exec "$2" ip link show | grep -q 'trl-'; then not_ok "$1: trl-* devices left"
	else ok "$1: no trl-* device left"; fi
}
# one counter of `tunrelay stats` of the relay in A
stat() { inA "$BIN" stats -c "$TMP/a.ini" | awk -v k="$1" '$1 == k { print $2 }'; }
# status line KEY of the relay in A
status() { inA "$BIN" status -c "$TMP/a.ini" | awk -v k="$1" '$1 == k { print $2 }'; }
# the shard of port $1 among $2 (nat_port_shard in nat/nat.h)
pshard() { echo $(( ((($1 * 0x9e3779b1) & 0xffffffff) >> 16) % $2 )); }
# residue WHAT KIND: KIND (tcp or udp) flows from 24 chosen client ports;
# every answer must name a relay port in nat_ports of the client port's
# shard among SHARDS, and every flow must be answered
residue() {
	local what=$1 kind=$2 sp a rp good=0 bad=""
	# client ports below the ephemeral range: no transfer's socket holds one
	for sp in $(seq 20101 20124); do
		if [ "$kind" = tcp ]; then
			a=$(ip netns exec "$NS_C" python3 "$PEER" tcp-line-from 192.0.2.10 "$sp" 192.0.2.1 81 2>&1)
		else
			a=$(ip netns exec "$NS_C" python3 "$PEER" udp-line 192.0.2.1 81 192.0.2.10 "$sp" 2>&1)
		fi
		rp=$(echo "$a" | sed -n 's/^B peer=192\.0\.2\.1 port=\([0-9]*\) .*/\1/p')
		if [ -n "$rp" ] && [ "$rp" -ge 61000 ] && [ "$rp" -le 65534 ] &&
		    [ "$(pshard "$rp" "$SHARDS")" = "$(pshard "$sp" "$SHARDS")" ]; then
			good=$((good + 1))
		else
			bad="$bad $sp:${rp:-$a}"
		fi
	done
	if [ "$good" = 24 ]; then ok "$what: 24 $kind flows answered, relay ports of the client port's shard of $SHARDS"
	else not_ok "$what: $good of 24 $kind flows right (client port:relay port or answer:$bad)"; fi
}

# hairpin WHAT SHARDS STEERING OUTSIDE [WRAPPER...]: the gateway G with
# $TMP/g.ini; 16 TCP and 16 UDP flows of a LAN client hairpinned to the LAN
# servers (seen from G's LAN address), 16 TCP flows of the outside client
# from chosen ports (seen from OUTSIDE), status, clean SIGTERM
hairpin() {
	local what=$1 shards=$2 steer=$3 outside=$4 sp a good=0 seen=0 bad=""; shift 4
	: >"$TMP/g.log"
	if ! start "$NS_G" "$TMP/g.ini" "$TMP/g.log" "$@"; then
		not_ok "$what: relay did not come up"; cat "$TMP/g.log"; return
	fi
	expect "$what: status says $shards shards" "^shards $shards\$" inG "$BIN" status -c "$TMP/g.ini"
	expect "$what: status says steering $steer" "^steering $steer\$" inG "$BIN" status -c "$TMP/g.ini"
	for sp in $(seq 21001 21016); do
		a=$(inL python3 "$PEER" tcp-line-from 192.168.50.10 "$sp" 203.0.113.1 80 2>&1)
		case $a in "srv1 peer=192.168.50.1 "*) good=$((good + 1)) ;; esac
		a=$(inL python3 "$PEER" udp-line 203.0.113.1 8080 192.168.50.10 "$sp" 2>&1)
		case $a in "srv2 peer=192.168.50.1 "*) good=$((good + 1)) ;; esac
		a=$(inO python3 "$PEER" tcp-line-from 203.0.113.10 "$sp" 203.0.113.1 80 2>&1)
		case $a in "srv1 peer=$outside "*) seen=$((seen + 1)) ;;
		*) bad="$bad $sp:$(echo "$a" | tail -1)" ;; esac
	done
	if [ "$good" = 32 ]; then ok "$what: 16 TCP and 16 UDP hairpinned flows answered"
	else not_ok "$what: $good of 32 hairpinned flows answered"; fi
	if [ "$seen" = 16 ]; then ok "$what: 16 outside clients answered, seen as $outside"
	else not_ok "$what: $seen of 16 outside clients answered as $outside (port:answer$bad)"
		inG "$BIN" stats -c "$TMP/g.ini" | grep -E '^drop_' | grep -v ' 0$'; fi
	stop "$what" "$NS_G"
}

fwd_port_up || { echo "not ok - port forward topology"; exit 1; }
fwd_port_services "$PEER" || { echo "not ok - port forward services"; exit 1; }
# server ports of their own per setup: a relay started anew may pick a
# relay port whose connection to the same server port B still holds in
# TIME_WAIT from the setup before, and B then answers its SYN with the old
# connection's ACK for as long as that lasts (as after any NAT flush)
for p in 9100 9102 9104; do
	topo_bg "$NS_B" python3 "$BULK" serve 192.0.2.32 "$p" $((p + 1)) $((MB * 1048576))
done
topo_wait 50 sh -c "ip netns exec $NS_B ss -ltn | grep -q ':9105 '"
fwd_hairpin_up || { echo "not ok - hairpin topology"; exit 1; }
fwd_hairpin_services "$PEER" || { echo "not ok - hairpin services"; exit 1; }
# the servers keep no TIME_WAIT: each setup starts relays anew, whose port
# allocators know nothing of the last ones' relay ports; a server still
# holding one's connection in TIME_WAIT answers a new SYN on it with the
# old connection's ACK when its timestamp is older (PAWS), for a minute
for ns in "$NS_B" "$NS_S1" "$NS_S2"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_max_tw_buckets=0
done

bulk_port=9098
for setup in ${SHARDS_SETUPS:-ebpf denied single}; do
	bulk_port=$((bulk_port + 2))
	wrap=()
	SHARDS=2
	front_keys="queues = 2"
	if [ "$setup" = single ]; then
		front_keys="queues = 2\nshards = 1"
		SHARDS=1
	fi
	# [front] keys go after its control_socket line, before the forwards
	fwd_port_conf "$TMP/a.sock" | sed "s/^control_socket = .*/&\n$front_keys/" >"$TMP/a.ini"
	printf '[forward.bulk]\nproto = tcp\nlisten = 8100-8101\nto = 192.0.2.32:%s\nsource = relay\n' "$bulk_port" >>"$TMP/a.ini"
	if [ "$setup" = denied ]; then
		if [ ! -x "$DENY" ] || ! "$DENY" bpf true 2>/dev/null; then
			echo "# deny cannot deny bpf here: the kernel's spreading not tested"
			continue
		fi
		wrap=("$DENY" bpf)
	fi
	: >"$TMP/a.log"
	if ! start "$NS_A" "$TMP/a.ini" "$TMP/a.log" "${wrap[@]}"; then
		not_ok "$setup: relay did not come up"; cat "$TMP/a.log"; continue
	fi
	want_steer=ebpf
	[ "$setup" = denied ] && want_steer=kernel
	[ "$setup" = single ] && want_steer=none
	expect "$setup: status says $SHARDS shards" "^$SHARDS\$" status shards
	expect "$setup: status says steering $want_steer" "^$want_steer\$" status steering
	case $setup in
	ebpf) expect "$setup: the log says eBPF steers" 'queue steering: eBPF' cat "$TMP/a.log" ;;
	denied) expect "$setup: the log says why not" "queue steering: the kernel's own hash" cat "$TMP/a.log" ;;
	single) expect "$setup: the log says one shard" 'engine: one shard behind one lock' cat "$TMP/a.log" ;;
	esac
	nf0=$(stat drop_no_flow)

	inC timeout 200 python3 "$BULK" run 192.0.2.1 8100 8101 $((MB * 1048576)) "$COUNT" 6 30 >"$TMP/run.$setup" 2>&1
	for way in dl ul; do
		n=$(sed -n "s/^$way .*\\<ok=\\([0-9]*\\).*/\\1/p" "$TMP/run.$setup")
		name=downloads; [ "$way" = ul ] && name=uploads
		if [ "${n:-0}" = "$COUNT" ]; then ok "$setup: $COUNT of $COUNT $name through full NAT, every byte checked"
		else not_ok "$setup: ${n:-0} of $COUNT $name ($(grep "^$way " "$TMP/run.$setup"))"; fi
	done
	if [ "$fail" -gt 0 ]; then
		echo "--- $setup: transfers that failed, drops, flows"
		grep -v '^dl \|^ul \|^tuples\|^elapsed' "$TMP/run.$setup" | head -5
		inA "$BIN" stats -c "$TMP/a.ini" | grep -E '^drop_|crossed|waits' | grep -v ' 0$'
		inA "$BIN" flows -c "$TMP/a.ini" | grep -v 'time_wait\|closed' | head -5
	fi
	residue "$setup" tcp
	residue "$setup" udp
	nf1=$(stat drop_no_flow)
	if [ "$((nf1 - nf0))" = 0 ]; then ok "$setup: drop_no_flow stays 0"
	else not_ok "$setup: drop_no_flow $((nf1 - nf0))"; fi
	rx=$(stat tun_rx_packets)
	cr=$(stat engine_shard_crossed)
	echo "# $setup: tun_rx_packets $rx, engine_shard_crossed $cr, engine_lock_waits $(stat engine_lock_waits)"
	case $setup in
	ebpf)
		# the steering program and nat_shard agree on every packet here
		if [ "$((cr * 100))" -le "$rx" ]; then ok "$setup: at most 1% of packets crossed shards ($cr of $rx)"
		else not_ok "$setup: $cr of $rx packets crossed shards"; fi ;;
	denied)
		if [ "$cr" -gt 0 ]; then ok "$setup: packets crossed to their shard ($cr of $rx) and every transfer completed"
		else not_ok "$setup: no packet crossed shards: the cross path was not tested"; fi ;;
	single)
		if [ "$cr" = 0 ]; then ok "$setup: nothing crosses with one shard"
		else not_ok "$setup: $cr packets crossed with one shard"; fi ;;
	esac
	stop "$setup" "$NS_A"
	if grep -E 'warning|error|cannot' "$TMP/a.log" | grep -qv "queue steering"; then
		not_ok "$setup: warnings logged: $(grep -E 'warning|error|cannot' "$TMP/a.log" | grep -v "queue steering" | head -3)"
	else ok "$setup: no other warning logged"; fi

	# hairpin, full NAT for every client (source = relay): the gateway
	# runs as shards; LAN clients are hairpinned, outside ones natted too
	fwd_hairpin_conf "$TMP/g.sock" | sed -e "s/^control_socket = .*/&\n$front_keys/" \
	    -e 's/^to = 192\.168\.50\.3[23]:80$/&\nsource = relay/' >"$TMP/g.ini"
	hairpin "$setup hairpin, source = relay" "$SHARDS" "$want_steer" 192.168.50.1 "${wrap[@]}"
	# the example's hairpin: outside clients keep their address to targets
	# on the LAN, whose replies come back on the LAN side (not the inside)
	fwd_hairpin_conf "$TMP/g.sock" | sed "s/^control_socket = .*/&\n$front_keys/" >"$TMP/g.ini"
	hairpin "$setup hairpin, outside clients keep their address" "$SHARDS" "$want_steer" 203.0.113.10 "${wrap[@]}"
done

refute() { if "${@:3}" 2>/dev/null | grep -Eq -- "$2"; then not_ok "$1"; else ok "$1"; fi; }
refute "no sanitizer reports from the relays" 'Sanitizer|runtime error' cat "$TMP/a.log" "$TMP/g.log"
e2e_summary
