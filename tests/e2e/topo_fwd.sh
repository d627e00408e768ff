# shellcheck shell=bash
# topo_fwd.sh - the port forward and hairpin topologies in network namespaces,
# for tests/e2e/forward.sh. Source it after topo.sh (for topo_bg, topo_wait,
# topo_ns and TOPO_PIDS); topo_down removes it and is safe to call at any
# time (topo_test traps it on EXIT).
#
# Port forward, port forwarding on a single NIC: A forwards its port 81 to B:80;
# B's default route is not A, so only full NAT brings its replies back.
#
#   client c-eth0 192.0.2.10 (.11-.15 too) --+
#   relay A a-eth0 192.0.2.1 ----------------+-- br0 in "switch"
#   server B b-eth0 192.0.2.32 --------------+   (B: default via 192.0.2.254,
#                                                  a router nobody answers for)
#
# Hairpin, hairpin NAT: G is the LAN gateway; LAN hosts reach the LAN servers
# through G's public address.
#
#   outside o-eth0 203.0.113.10 --- g-pub 203.0.113.1  gateway G
#                                   g-lan 192.168.50.1 --+
#   LAN server 1 s1-eth0 192.168.50.32 ------------------+-- br0 in "lan"
#   LAN server 2 s2-eth0 192.168.50.33 ------------------+   (LAN hosts:
#   LAN client   l-eth0  192.168.50.10 ------------------+   default via .1)
#
# Only documentation and private ranges, only inside namespaces made here.

FWD_ID=${TOPO_ID:-$$}
NS_SW=tr-sw-$FWD_ID
NS_C=tr-c-$FWD_ID
NS_A=tr-a-$FWD_ID
NS_B=tr-b-$FWD_ID
NS_O=tr-o-$FWD_ID
NS_G=tr-g-$FWD_ID
NS_LAN=tr-lan-$FWD_ID
NS_S1=tr-s1-$FWD_ID
NS_S2=tr-s2-$FWD_ID
NS_L=tr-l-$FWD_ID

inA() { ip netns exec "$NS_A" "$@"; }
inG() { ip netns exec "$NS_G" "$@"; }
inO() { ip netns exec "$NS_O" "$@"; }
inL() { ip netns exec "$NS_L" "$@"; }

# A bridge br0 in a namespace.
fwd_bridge() {
	topo_ns "$1" || return 1
	ip -n "$1" link add br0 type bridge &&
	    ip -n "$1" link set br0 up
}

# A veth from NS:DEV to the bridge of BRNS (port PORT), checksums offload off.
fwd_port() {
	local ns=$1 dev=$2 brns=$3 port=$4
	ip link add "$dev" netns "$ns" type veth peer name "$port" netns "$brns" &&
	    ip -n "$brns" link set "$port" master br0 up &&
	    ip -n "$brns" link set "$port" up &&
	    ip netns exec "$brns" ethtool -K "$port" tx off >/dev/null &&
	    ip netns exec "$ns" ethtool -K "$dev" tx off >/dev/null &&
	    ip -n "$ns" link set "$dev" up
}

# A host in NS on a bridge: DEV with ADDR/24, default route via GW if given.
fwd_host() {
	local ns=$1 dev=$2 brns=$3 port=$4 addr=$5 gw=${6:-}
	topo_ns "$ns" && fwd_port "$ns" "$dev" "$brns" "$port" &&
	    ip -n "$ns" addr add "$addr/24" dev "$dev" || return 1
	[ -z "$gw" ] || ip -n "$ns" route add default via "$gw"
}

# Port forward: client, relay A and server B on one switch.
fwd_port_up() {
	local i
	fwd_bridge "$NS_SW" &&
	    fwd_host "$NS_C" c-eth0 "$NS_SW" sw-c 192.0.2.10 &&
	    fwd_host "$NS_A" a-eth0 "$NS_SW" sw-a 192.0.2.1 &&
	    fwd_host "$NS_B" b-eth0 "$NS_SW" sw-b 192.0.2.32 192.0.2.254 ||
	    return 1
	# more client addresses: clients sharing one source port
	for i in 11 12 13 14 15; do
		ip -n "$NS_C" addr add "192.0.2.$i/24" dev c-eth0 || return 1
	done
}

# Port forward services on B: who-answers on 80 and 9000-9010 (TCP and UDP).
fwd_port_services() {
	local py=$1
	topo_bg "$NS_B" python3 "$py" serve-who 0.0.0.0 B \
	    80,9000,9001,9002,9003,9004,9005,9006,9007,9008,9009,9010
	topo_wait 50 ip netns exec "$NS_B" python3 "$py" tcp-line 192.0.2.32 80
}

# The relay A's config for port forward.
fwd_port_conf() {
	cat <<EOF
; port forward: A:81 -> B:80 on one NIC, B's replies come back by full NAT
[front]
public_interface = a-eth0
control_socket = $1
state_file = ${1%.sock}.state

[forward.web]
proto = tcp,udp
listen = 81
to = 192.0.2.32:80
source = relay

[forward.range]
proto = tcp,udp
listen = 8000-8010
to = 192.0.2.32:9000
source = relay
EOF
}

# Hairpin: the outside client, the gateway G and the LAN behind it.
fwd_hairpin_up() {
	topo_ns "$NS_O" && topo_ns "$NS_G" && fwd_bridge "$NS_LAN" || return 1
	ip link add o-eth0 netns "$NS_O" type veth peer name g-pub netns "$NS_G" &&
	    ip -n "$NS_O" addr add 203.0.113.10/24 dev o-eth0 &&
	    ip -n "$NS_O" link set o-eth0 up &&
	    ip -n "$NS_G" addr add 203.0.113.1/24 dev g-pub &&
	    ip -n "$NS_G" link set g-pub up &&
	    ip netns exec "$NS_O" ethtool -K o-eth0 tx off >/dev/null &&
	    ip netns exec "$NS_G" ethtool -K g-pub tx off >/dev/null || return 1
	fwd_port "$NS_G" g-lan "$NS_LAN" sw-g &&
	    ip -n "$NS_G" addr add 192.168.50.1/24 dev g-lan &&
	    fwd_host "$NS_S1" s1-eth0 "$NS_LAN" sw-s1 192.168.50.32 192.168.50.1 &&
	    fwd_host "$NS_S2" s2-eth0 "$NS_LAN" sw-s2 192.168.50.33 192.168.50.1 &&
	    fwd_host "$NS_L" l-eth0 "$NS_LAN" sw-l 192.168.50.10 192.168.50.1
}

# Hairpin services: who-answers on both LAN servers, TCP and UDP port 80.
fwd_hairpin_services() {
	local py=$1
	topo_bg "$NS_S1" python3 "$py" serve-who 0.0.0.0 srv1 80
	topo_bg "$NS_S2" python3 "$py" serve-who 0.0.0.0 srv2 80
	topo_wait 50 ip netns exec "$NS_S1" python3 "$py" tcp-line 192.168.50.32 80 &&
	    topo_wait 50 ip netns exec "$NS_S2" python3 "$py" tcp-line 192.168.50.33 80
}

# The gateway G's config for hairpin.
fwd_hairpin_conf() {
	cat <<EOF
; hairpin: port forwards to two LAN servers, hairpinned for LAN clients
[front]
public_interface = g-pub
control_socket = $1
state_file = ${1%.sock}.state

[forward.web]
proto = tcp,udp
listen = 80
to = 192.168.50.32:80

[forward.web2]
proto = tcp,udp
listen = 8080
to = 192.168.50.33:80

[hairpin]
interfaces = g-lan
EOF
}
