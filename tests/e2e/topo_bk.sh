# shellcheck shell=bash
# topo_bk.sh - one front, three backends, for tests/e2e/backends.sh. Source
# it after topo.sh (for topo_bg, topo_wait, topo_ns and TOPO_PIDS); topo_down
# removes it and is safe to call at any time (topo_test traps it on EXIT).
#
#   clients                     front (relay)
#   c-eth0 198.51.100.10-49 --- f-eth0 198.51.100.1
#          2001:db8:100::10-19         2001:db8:100::1
#                               f-tun  10.22.22.254, fd22::254 ---+
#                                                                 |  br0 in "switch"
#   backend 1  b-eth0 10.22.22.1, fd22::1 ---(sw-b1)--------------+  (the tunnel side;
#   backend 2  b-eth0 10.22.22.2, fd22::2 ---(sw-b2)--------------+   each backend's
#   backend 3  b-eth0 10.22.22.3, fd22::3 ---(sw-b3)--------------+   default route is
#                                                                     the front)
#
# Only documentation and private ranges, only inside namespaces made here.

BK_ID=${TOPO_ID:-$$}
NS_C=tr-c-$BK_ID
NS_F=tr-f-$BK_ID
NS_SW=tr-sw-$BK_ID
# backend N's namespace is NS_BN (bk_nsof)
# shellcheck disable=SC2034
NS_B1=tr-b1-$BK_ID
# shellcheck disable=SC2034
NS_B2=tr-b2-$BK_ID
# shellcheck disable=SC2034
NS_B3=tr-b3-$BK_ID
BK_PID=()			# the IPv4 service of backend N is BK_PID[N]
BK_PID6=()			# its IPv6 service

inC() { ip netns exec "$NS_C" "$@"; }
inF() { ip netns exec "$NS_F" "$@"; }

# Backend N's namespace.
bk_nsof() { eval "echo \$NS_B$1"; }

# A veth from NS:DEV to the switch's bridge (port PORT), tx offload off.
bk_port() {
	local ns=$1 dev=$2 port=$3
	ip link add "$dev" netns "$ns" type veth peer name "$port" netns "$NS_SW" &&
	    ip -n "$NS_SW" link set "$port" master br0 up &&
	    ip netns exec "$NS_SW" ethtool -K "$port" tx off >/dev/null &&
	    ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null &&
	    ip -n "$ns" link set "$dev" up
}

# The clients, the front, the switch and backends 1..3.
bk_up() {
	local i n
	topo_ns "$NS_C" && topo_ns "$NS_F" && topo_ns "$NS_SW" || return 1
	ip -n "$NS_SW" link add br0 type bridge && ip -n "$NS_SW" link set br0 up ||
	    return 1
	ip link add c-eth0 netns "$NS_C" type veth peer name f-eth0 netns "$NS_F" &&
	    inC ip addr add 198.51.100.10/24 dev c-eth0 &&
	    inC ip link set c-eth0 up &&
	    inF ip addr add 198.51.100.1/24 dev f-eth0 &&
	    inF ip link set f-eth0 up &&
	    inC ethtool -K c-eth0 tx off >/dev/null &&
	    inF ethtool -K f-eth0 tx off >/dev/null || return 1
	# many clients: each source address is one client
	for i in $(seq 11 49); do
		inC ip addr add "198.51.100.$i/24" dev c-eth0 || return 1
	done
	for i in $(seq 10 19); do
		inC ip -6 addr add "2001:db8:100::$i/64" dev c-eth0 nodad || return 1
	done
	inF ip -6 addr add 2001:db8:100::1/64 dev f-eth0 nodad || return 1
	bk_port "$NS_F" f-tun sw-f && inF ip addr add 10.22.22.254/24 dev f-tun &&
	    inF ip -6 addr add fd22::254/64 dev f-tun nodad || return 1
	for n in 1 2 3; do
		topo_ns "$(bk_nsof $n)" && bk_port "$(bk_nsof $n)" b-eth0 "sw-b$n" &&
		    ip -n "$(bk_nsof $n)" addr add "10.22.22.$n/24" dev b-eth0 &&
		    ip -n "$(bk_nsof $n)" -6 addr add "fd22::$n/64" dev b-eth0 nodad &&
		    ip -n "$(bk_nsof $n)" route add default via 10.22.22.254 &&
		    ip -n "$(bk_nsof $n)" -6 route add default via fd22::254 ||
		    return 1
	done
}

# Start backend N's services: who-answers "BN peer=..." on TCP and UDP 80,
# IPv4 and IPv6.
bk_serve() {
	local n=$1 py=$2
	topo_bg "$(bk_nsof "$n")" python3 "$py" serve-who 10.22.22."$n" "B$n" 80
	BK_PID[n]=${TOPO_PIDS[-1]}
	topo_bg "$(bk_nsof "$n")" python3 "$py" serve-who fd22::"$n" "B$n" 80
	BK_PID6[n]=${TOPO_PIDS[-1]}
	topo_wait 50 ip netns exec "$(bk_nsof "$n")" python3 "$py" tcp-line \
	    10.22.22."$n" 80 &&
	    topo_wait 50 ip netns exec "$(bk_nsof "$n")" python3 "$py" tcp-line \
	    fd22::"$n" 80
}

# Stop backend N's services.
bk_kill() {
	kill "${BK_PID[$1]}" "${BK_PID6[$1]}" 2>/dev/null
	wait "${BK_PID[$1]}" "${BK_PID6[$1]}" 2>/dev/null
	BK_PID[$1]=
	BK_PID6[$1]=
}

# The front's config: a forward of TCP and UDP port 80 to the three
# backends, TCP-checked, one of UDP 5353 to them, ICMP-checked, and the
# IPv6 default destination, the three again, ICMPv6-checked. $2 replaces
# forward.web's second backend ("" drops it); $3 is a section put before
# the forwards.
bk_conf() {
	cat <<EOF
; one front, three backends: new flows spread by client address
[front]
public_interface = f-eth0
tunnel_interface = f-tun
control_socket = $1
state_file = ${1%.sock}.state
metrics = 127.0.0.1:9464
backend = fd22::1, fd22::2, fd22::3
backend_check = icmp interval=1 timeout=1 rise=2 fall=3
${3:+
$3
}
[forward.web]
proto = tcp,udp
listen = 80
to = 10.22.22.1:80 weight=2, ${2-10.22.22.2:80, }10.22.22.3:80
check = tcp interval=1 timeout=1 rise=2 fall=3

[forward.dns]
proto = udp
listen = 5353
to = 10.22.22.1:80, 10.22.22.2:80, 10.22.22.3:80
check = icmp interval=1 timeout=1 rise=2 fall=3
EOF
}
