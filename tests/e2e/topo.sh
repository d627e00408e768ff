# shellcheck shell=bash
# topo.sh - the keep-client-ip topology in network namespaces, shared by the
# end-to-end tests and the demo. Source it; call topo_up, topo_backend_recipe,
# topo_services; topo_down is safe to call at any time (trap it on EXIT).
#
#   client                     front (relay)                        backend
#   c-eth0 198.51.100.10 ----- f-eth0 198.51.100.1
#          2001:db8:100::10           2001:db8:100::1
#                              f-wg0 10.22.22.2 ---(veth: tunnel)--- b-wg0 10.22.22.1
#                                    fd22::2     MTU 1420             fd22::1  MTU 1500
#                                                                     b-up0 (veth to nowhere): the backend's
#                                                                     default route, a black hole for
#                                                                     replies that take the wrong path
#
# Only documentation and private ranges, only inside namespaces made here.

TOPO_ID=${TOPO_ID:-$$}
NS_C=tr-c-$TOPO_ID
NS_F=tr-f-$TOPO_ID
NS_B=tr-b-$TOPO_ID
TOPO_PIDS=()
TOPO_NS=()
TOPO_WRAP=()

inC() { ip netns exec "$NS_C" "$@"; }
inF() { ip netns exec "$NS_F" "$@"; }
inB() { ip netns exec "$NS_B" "$@"; }

# Run a command in a namespace in the background, remembered for topo_down.
topo_bg() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	TOPO_PIDS+=($!)
}

# Wait (bounded) until a command succeeds.
topo_wait() {
	local tries=$1; shift
	while [ "$tries" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

# The three namespaces, the client and the front, the tunnel between the
# front and the backend.
topo_up() {
	topo_ends || return 1
	topo_tunnel_veth
}

# The three namespaces, the client's link to the front, the backend's black
# hole default route; no tunnel (topo_tunnel_veth, or a real one:
# topo_tunnel.sh).
topo_ends() {
	ip netns add "$NS_C" && ip netns add "$NS_F" && ip netns add "$NS_B" || return 1
	ip link add c-eth0 netns "$NS_C" type veth peer name f-eth0 netns "$NS_F"
	for ns in "$NS_C" "$NS_F" "$NS_B"; do ip -n "$ns" link set lo up; done

	inC ip addr add 198.51.100.10/24 dev c-eth0
	inC ip -6 addr add 2001:db8:100::10/64 dev c-eth0 nodad
	inC ip link set c-eth0 up

	inF ip addr add 198.51.100.1/24 dev f-eth0
	inF ip -6 addr add 2001:db8:100::1/64 dev f-eth0 nodad
	inF ip link set f-eth0 up
	topo_blackhole

	# correctness runs: partial checksums must be completed by us, not hidden
	inC ethtool -K c-eth0 tx off >/dev/null
	inF ethtool -K f-eth0 tx off >/dev/null
}

# The tunnel: a veth f-wg0 (MTU 1420) -- b-wg0 with its addresses, tx
# checksum offload off.
topo_tunnel_veth() {
	ip link add f-wg0 netns "$NS_F" type veth peer name b-wg0 netns "$NS_B"
	inF ip addr add 10.22.22.2/24 dev f-wg0
	inF ip -6 addr add fd22::2/64 dev f-wg0 nodad
	inF ip link set f-wg0 mtu 1420 up
	inB ip addr add 10.22.22.1/24 dev b-wg0
	inB ip -6 addr add fd22::1/64 dev b-wg0 nodad
	inB ip link set b-wg0 up
	inF ethtool -K f-wg0 tx off >/dev/null
	inB ethtool -K b-wg0 tx off >/dev/null
}

# The backend's default route: b-up0, a veth to nowhere, a black hole for
# replies that take the wrong path.
topo_blackhole() {
	inB ip link add b-up0 type veth peer name b-up1
	inB ip link set b-up1 up
	inB ip addr add 203.0.113.2/24 dev b-up0
	inB ip -6 addr add 2001:db8:ffff::2/64 dev b-up0 nodad
	inB ip link set b-up0 up
	inB ip route add default via 203.0.113.254
	inB ip -6 route add default via 2001:db8:ffff::1
}

# The backend side of the keep-client-ip relay: connmark flows from the tunnel, send their
# replies back through it (nftables instead of iptables, same rules).
topo_backend_recipe() {
	inB nft -f - <<'EOF' || return 1
table inet trtest {
	chain pre {
		type filter hook prerouting priority mangle;
		iifname "b-wg0" ct mark set 0x1
	}
	chain out {
		type route hook output priority mangle;
		ct mark 0x1 meta mark set ct mark
	}
}
EOF
	inB ip rule add fwmark 1 table 100
	inB ip route add default via 10.22.22.2 dev b-wg0 table 100
	inB ip -6 rule add fwmark 1 table 100
	inB ip -6 route add default via fd22::2 dev b-wg0 table 100
	inB sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.b-wg0.rp_filter=2
	inB sysctl -qw net.ipv4.conf.all.src_valid_mark=1
}

# Services: on the backend TCP/UDP servers that answer with the peer address
# they see and an ICMP echo watcher; on the front an SSH stand-in on port 22.
topo_services() {
	local py=$1 log=$2
	topo_bg "$NS_B" python3 "$py" serve-tcp 10.22.22.1 80
	topo_bg "$NS_B" python3 "$py" serve-tcp fd22::1 80
	topo_bg "$NS_B" python3 "$py" serve-udp 10.22.22.1 53
	topo_bg "$NS_B" python3 "$py" serve-udp fd22::1 53
	topo_bg "$NS_B" python3 "$py" icmp-log "$log"
	topo_bg "$NS_F" python3 "$py" serve-tcp 0.0.0.0 22 front-ssh
	topo_wait 50 inB python3 "$py" tcp-who 10.22.22.1 80 &&
	    topo_wait 50 inB python3 "$py" tcp-who fd22::1 80 &&
	    topo_wait 50 topo_udp53 &&
	    topo_wait 50 inF python3 "$py" tcp-line 127.0.0.1 22
}

# Whether both UDP servers of the backend (IPv4 and IPv6 :53) are bound.
topo_udp53() {
	[ "$(ip netns exec "$NS_B" ss -Huln 'sport = :53' | wc -l)" -ge 2 ]
}

# The front's config for this topology.
topo_front_conf() {
	cat <<EOF
; keep-client-ip: everything but SSH goes to the backend, which sees the client
[front]
public_interface = f-eth0
tunnel_interface = f-wg0
backend = 10.22.22.1, fd22::1
exclude = tcp/22
mss_clamp = pmtu
control_socket = $1
state_file = ${1%.sock}.state
EOF
}

# The back's config for this topology: connmark, control socket $1.
topo_back_conf() {
	cat <<EOF
[back]
tunnel_interface = b-wg0
front = 10.22.22.2, fd22::2
mark = connmark
control_socket = $1
EOF
}

# topo_run PIDVAR NS CONF LOG: run the relay on CONF in NS, its output
# appended to LOG, its pid in the variable PIDVAR (ip netns exec execs the
# relay: the pid is the relay itself); wait until it answers on its control
# socket.
topo_run() {
	local pidvar=$1 ns=$2 conf=$3 log=$4
	ip netns exec "$ns" "$BIN" run -c "$conf" >>"$log" 2>&1 &
	printf -v "$pidvar" '%s' "$!"
	topo_wait 100 ip netns exec "$ns" "$BIN" stats -c "$conf"
}

# Run the front on $FCONF in NS_F (pid FPID, log $TMP/front.log).
topo_start_front() { topo_run FPID "$NS_F" "$FCONF" "$TMP/front.log"; }

# Run the back on $BCONF in NS_B (under the command in TOPO_WRAP, if any:
# e.g. a seccomp filter), its log appended to $TMP/back.log, pid in BPID;
# wait until the log says ready once more.
topo_start_back() {
	local n
	n=$(grep -c 'ready:' "$TMP/back.log" 2>/dev/null)
	ip netns exec "$NS_B" "${TOPO_WRAP[@]}" "$BIN" run -c "$BCONF" >>"$TMP/back.log" 2>&1 &
	BPID=$!
	topo_wait 100 sh -c "[ \$(grep -c 'ready:' '$TMP/back.log') -gt ${n:-0} ]"
}

# Stop the back with SIGTERM; its exit status.
topo_stop_back() {
	kill -TERM "$BPID"
	wait "$BPID"
	local rc=$?
	BPID=
	return $rc
}

# Every kernel object of ours, one line each, on both sides.
topo_objects() {
	{ inF ip rule show; inF ip -6 rule show; inF ip route show table all; inF ip -6 route show table all; } | grep 'proto 222'
	inF ip -o link show | grep -o 'trl-[a-z]*'
	{ inB ip rule show; inB ip -6 rule show; inB ip route show table all; inB ip -6 route show table all; } | grep 'proto 222'
	inB nft list tables | grep tunrelay
}

# A namespace with lo up, remembered for topo_down (the topologies of
# topo_bk.sh, topo_fwd.sh and topo_path.sh, and the tests' own).
topo_ns() {
	ip netns add "$1" || return 1
	TOPO_NS+=("$1")
	ip -n "$1" link set lo up
}

# Stop the background commands; remove the namespaces of this topology and
# every one topo_ns made (their veths and bridges go with them).
topo_down() {
	local p ns
	for p in "${TOPO_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${TOPO_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	TOPO_PIDS=()
	for ns in "$NS_C" "$NS_F" "$NS_B" "${TOPO_NS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NS=()
	return 0
}

# topo_test NAME: a temporary directory $TMP (/tmp/tunrelay-NAME.*) for a
# test, and an EXIT trap that kills the daemons in DPID, FPID and BPID (the
# test sets them), removes the topology and the directory.
topo_test() {
	TMP=$(mktemp -d "/tmp/tunrelay-$1.XXXXXX") || exit 1
	DPID=
	FPID=
	BPID=
	trap topo_test_cleanup EXIT
}

# The EXIT trap of topo_test.
topo_test_cleanup() {
	local p
	for p in "${DPID:-}" "${FPID:-}" "${BPID:-}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	topo_down
	rm -rf "$TMP"
}
