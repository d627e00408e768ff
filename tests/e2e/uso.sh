#!/bin/bash
# End-to-end test of UDP GSO passthrough: a sender that batches
# datagrams with UDP_SEGMENT (as QUIC stacks do) crosses the front as whole
# GSO packets, not one packet per datagram, and every datagram reaches the
# backend intact (its UDP checksum verified by the backend's stack; tx
# checksum offload stays off on the egress veth, as for every correctness
# test), with both TUN I/O paths: io_uring and tun_io = readwrite.
# Topology: tests/e2e/topo.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init e2e ip nft python3 ethtool
CONF=$TMP/front.ini

e2e_watchdog 120

# one counter of `tunrelay stats`
stat() { inF "$BIN" stats -c "$CONF" | awk -v k="$1" '$1 == k { print $2 }'; }

# the backend: count the datagrams of 1000 bytes of 'x' arriving at :5300
sink() {
	inB python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)	# SO_RCVBUFFORCE: a burst
s.bind(("10.22.22.1", 5300))
open("'"$TMP"'/sink.ready", "w").close()
s.settimeout(10)	# the burst may be late; once it runs, 3 s of quiet ends it
n = 0
try:
    while True:
        if s.recv(65535) == b"x" * 1000:
            n += 1
        s.settimeout(3)
except socket.timeout:
    pass
print(n)' >"$TMP/sink.out" 2>&1
}

# the client: 200 sends of 8000 bytes, cut into 1000-byte datagrams by GSO
burst() {
	inC python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1000)	# UDP_SEGMENT
s.connect(("198.51.100.1", 5300))
for i in range(200):
    s.send(b"x" * 8000)'
}

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
# the client's stack must be allowed to send GSO packets: tx offload on
# its own veth only; the front's egress toward the backend keeps tx off
inC ethtool -K c-eth0 tx on >/dev/null

for io in auto readwrite; do
	{ topo_front_conf "$TMP/ctl.sock"; echo "tun_io = $io"; } >"$CONF"
	: >"$TMP/front.log"
	ip netns exec "$NS_F" "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
	DPID=$!
	topo_wait 100 inF "$BIN" stats -c "$CONF" || { not_ok "tun_io=$io: front did not come up"; continue; }
	rm -f "$TMP/sink.ready"
	sink &
	spid=$!
	topo_wait 100 test -e "$TMP/sink.ready" || not_ok "tun_io=$io: the sink did not bind"
	if burst; then ok "tun_io=$io: 200 UDP_SEGMENT sends of 8 datagrams"
	else not_ok "tun_io=$io: the client cannot send with UDP_SEGMENT"; fi
	wait "$spid"
	n=$(cat "$TMP/sink.out")
	if [ "$n" = 1600 ]; then ok "tun_io=$io: the backend received all 1600 datagrams intact"
	else not_ok "tun_io=$io: the backend received $n of 1600 datagrams intact"; fi
	rx=$(stat packets_public)
	# whole: about one TUN packet per send, far fewer than the datagrams
	if [ -n "$rx" ] && [ "$rx" -gt 0 ] && [ "$rx" -le 800 ]; then ok "tun_io=$io: GSO passed whole ($rx packets on the public side for 1600 datagrams)"
	else not_ok "tun_io=$io: GSO not passed whole ($rx packets on the public side for 1600 datagrams)"; fi
	kill -TERM "$DPID"
	wait "$DPID"; rc=$?; DPID=
	if [ "$rc" = 0 ]; then ok "tun_io=$io: SIGTERM: exit 0"; else not_ok "tun_io=$io: SIGTERM: exit $rc"; fi
done

if [ "$fail" -gt 0 ]; then
	echo "--- front log"
	cat "$TMP/front.log"
fi
e2e_summary
