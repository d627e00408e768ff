# shellcheck shell=bash
# topo_path.sh - a routed path behind the front, for tests/e2e/paths.sh:
# targets sit two routers away and the link between the routers has the
# smallest MTU, so that path MTU discovery, TTL expiry and fragmentation
# happen beyond the front, as on the internet. Source it after topo.sh (for
# topo_bg, topo_wait, topo_ns and TOPO_PIDS); topo_down removes it and is
# safe at any time.
#
#   client  c-eth0 198.51.100.10/24      2001:db8:100::10/64
#      |
#   front   f-eth0 198.51.100.1          2001:db8:100::1      (public_interface)
#           f-in0  10.30.0.1/24          fd30::1/64           (tunnel_interface)
#      |
#   r1      r1-f   10.30.0.254           fd30::fe
#           r1-r2  10.31.0.1/24          fd31::1/64           MTU 1280
#      |
#   r2      r2-r1  10.31.0.2             fd31::2              MTU 1280
#           r2-t   10.32.0.254/24        fd32::fe/64
#      |
#   target  t-eth0 10.32.0.10/24         fd32::10/64          (MTU 1500: its
#                                                               MSS says 1460)
#
# Routes: the front reaches 10.31/16-ish and fd31/fd32 via r1; r1, r2 and the
# target send everything else back toward the front, so keep-source replies
# to the client return through it. Only documentation and private ranges,
# only inside namespaces made here.

PATH_ID=${TOPO_ID:-$$}
NS_C=tr-c-$PATH_ID
NS_F=tr-f-$PATH_ID
NS_R1=tr-r1-$PATH_ID
NS_R2=tr-r2-$PATH_ID
NS_T=tr-t-$PATH_ID

inC() { ip netns exec "$NS_C" "$@"; }
inF() { ip netns exec "$NS_F" "$@"; }
inR1() { ip netns exec "$NS_R1" "$@"; }
inR2() { ip netns exec "$NS_R2" "$@"; }
inT() { ip netns exec "$NS_T" "$@"; }

# A veth between NS1:DEV1 and NS2:DEV2 with MTU, up, tx checksum offload off.
path_link() {
	local ns1=$1 d1=$2 ns2=$3 d2=$4 mtu=$5
	ip link add "$d1" netns "$ns1" mtu "$mtu" type veth peer name "$d2" \
	    netns "$ns2" mtu "$mtu" &&
	    ip -n "$ns1" link set "$d1" up && ip -n "$ns2" link set "$d2" up &&
	    ip netns exec "$ns1" ethtool -K "$d1" tx off >/dev/null &&
	    ip netns exec "$ns2" ethtool -K "$d2" tx off >/dev/null
}

# An address of each family on NS:DEV (IPv6 without duplicate detection).
path_addr() {
	ip -n "$1" addr add "$3" dev "$2" &&
	    ip -n "$1" -6 addr add "$4" dev "$2" nodad
}

path_up() {
	local ns
	for ns in "$NS_C" "$NS_F" "$NS_R1" "$NS_R2" "$NS_T"; do
		topo_ns "$ns" || return 1
	done
	path_link "$NS_C" c-eth0 "$NS_F" f-eth0 1500 &&
	    path_link "$NS_F" f-in0 "$NS_R1" r1-f 1500 &&
	    path_link "$NS_R1" r1-r2 "$NS_R2" r2-r1 1280 &&
	    path_link "$NS_R2" r2-t "$NS_T" t-eth0 1500 || return 1
	path_addr "$NS_C" c-eth0 198.51.100.10/24 2001:db8:100::10/64 &&
	    path_addr "$NS_F" f-eth0 198.51.100.1/24 2001:db8:100::1/64 &&
	    path_addr "$NS_F" f-in0 10.30.0.1/24 fd30::1/64 &&
	    path_addr "$NS_R1" r1-f 10.30.0.254/24 fd30::fe/64 &&
	    path_addr "$NS_R1" r1-r2 10.31.0.1/24 fd31::1/64 &&
	    path_addr "$NS_R2" r2-r1 10.31.0.2/24 fd31::2/64 &&
	    path_addr "$NS_R2" r2-t 10.32.0.254/24 fd32::fe/64 &&
	    path_addr "$NS_T" t-eth0 10.32.0.10/24 fd32::10/64 || return 1
	for ns in "$NS_R1" "$NS_R2"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 \
		    net.ipv6.conf.all.forwarding=1 || return 1
	done
	ip -n "$NS_F" route add 10.31.0.0/24 via 10.30.0.254 &&
	    ip -n "$NS_F" route add 10.32.0.0/24 via 10.30.0.254 &&
	    ip -n "$NS_F" -6 route add fd31::/64 via fd30::fe &&
	    ip -n "$NS_F" -6 route add fd32::/64 via fd30::fe &&
	    ip -n "$NS_R1" route add 10.32.0.0/24 via 10.31.0.2 &&
	    ip -n "$NS_R1" route add default via 10.30.0.1 &&
	    ip -n "$NS_R1" -6 route add fd32::/64 via fd31::2 &&
	    ip -n "$NS_R1" -6 route add default via fd30::1 &&
	    ip -n "$NS_R2" route add default via 10.31.0.1 &&
	    ip -n "$NS_R2" -6 route add default via fd31::1 &&
	    ip -n "$NS_T" route add default via 10.32.0.254 &&
	    ip -n "$NS_T" -6 route add default via fd32::fe
}
