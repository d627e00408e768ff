# shellcheck shell=bash
# topo_tunnel.sh - the keep-client-ip relay over real tunnels, shared by
# tests/e2e/wireguard.sh and tests/e2e/openvpn.sh: tunrelay front on the
# relay and tunrelay back on the backend, joined by WireGuard (wireguard-go,
# brought up by wg-quick with its userspace fallback: the kernel has no
# WireGuard here) or by OpenVPN in TUN mode (point to point, with a static
# key over the private underlay and with TLS, each end pinning the other's
# certificate fingerprint, over the public one).
# Each tunnel runs twice: over a veth "underlay" with private addresses, and
# over the front's public interface and address (the usual deployment: the
# tunnel's own port must stay with the front). For each run: the backend's
# services see the client's address (TCP v4 and v6, UDP, ICMP echo to the
# public address), UDP services bound to 0.0.0.0 and :: answer from the
# public address, 30 MB down (the server talks first) and 30 MB up arrive
# complete and identical, a DF ping of the tunnel's MTU passes and one above
# it gets "frag needed" with the tunnel's MTU, and all of it works again
# after the tunnel restarts under the running relay.
#
#   client                    front (relay)                            backend
#   c-eth0 198.51.100.10 ---- f-eth0 198.51.100.1
#          2001:db8:100::10          2001:db8:100::1
#                             f-ul0 10.200.0.1 ----(veth: underlay)---- b-ul0 10.200.0.2
#                             TUN 10.22.22.2 ====(WireGuard | OpenVPN)==== TUN 10.22.22.1
#                                 fd22::2                                   fd22::1
#                                                                      b-up0 203.0.113.2: the default
#                                                                      route, a black hole for replies
#                                                                      that take the wrong path
#
# With the public underlay, f-ul0 and its veth are not made; the client's
# namespace stands in for the Internet between the front and the backend:
#
#   client c-eth1 192.0.2.1 (forwarding) ------------------------------ b-ul0 192.0.2.2
#   the tunnel runs between 198.51.100.1 (f-eth0) and 192.0.2.2; the backend
#   routes only 198.51.100.1 that way, its default route stays the black hole
#
# UNDERLAYS="private public" (the default) chooses the runs. wireguard-go
# keeps its control sockets in /var/run/wireguard, shared by all namespaces:
# each end has its own interface name, with the test's number.
#
# Source it after init.sh and e2e_init NAME TOOL... (BIN, $TMP);
# then tunnel_init, tunnel_runs KIND MTU, e2e_summary.

# tunnel_init: this file's variables, the EXIT trap and the watchdog
tunnel_init() {
	N=$(($$ % 100000))
	WGRUN=/var/run/wireguard
	SIZE=$((30 * 1024 * 1024))
	FCONF=$TMP/front.ini
	BCONF=$TMP/back.ini
	TF=
	TB=
	trap tunnel_cleanup EXIT
	# the watchdog outlives each run's topology (topo_down kills TOPO_PIDS)
	e2e_watchdog 280
	WATCHDOG=${TOPO_PIDS[-1]}
	TOPO_PIDS=()
}

# Stop the tunnel processes of both ends (by the pids they left) and remove
# wireguard-go's sockets of our interface names; safe at any time.
tunnels_down() {
	local f p i
	for f in "$TMP"/*.pid; do
		[ -e "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && kill "$p" 2>/dev/null
		for i in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
		rm -f "$f"
	done
	for i in trwf$N trwb$N; do rm -f "$WGRUN/$i.sock"; done
	return 0
}
# The EXIT trap: tunnels, daemons, namespaces, $TMP, the watchdog.
tunnel_cleanup() {
	tunnels_down
	topo_test_cleanup
	kill "$WATCHDOG" 2>/dev/null
}

# net_up private|public: the namespaces of topo.sh, with an underlay for
# the tunnel instead of the veth tunnel; sets UL_F and UL_B, the addresses
# the tunnel runs between.
net_up() {
	topo_ends || return 1
	if [ "$1" = private ]; then
		UL_F=10.200.0.1
		UL_B=10.200.0.2
		ip link add f-ul0 netns "$NS_F" type veth peer name b-ul0 netns "$NS_B"
		inF ip addr add $UL_F/24 dev f-ul0
		inF ip link set f-ul0 up
		inF ethtool -K f-ul0 tx off >/dev/null
	else
		UL_F=198.51.100.1
		UL_B=192.0.2.2
		ip link add c-eth1 netns "$NS_C" type veth peer name b-ul0 netns "$NS_B"
		inC ip addr add 192.0.2.1/24 dev c-eth1
		inC ip link set c-eth1 up
		inC sysctl -qw net.ipv4.ip_forward=1
		inC ethtool -K c-eth1 tx off >/dev/null
		inF ip route add 192.0.2.0/24 via 198.51.100.10
	fi
	inB ip addr add $UL_B/24 dev b-ul0
	inB ip link set b-ul0 up
	inB ethtool -K b-ul0 tx off >/dev/null
	[ "$1" = private ] || inB ip route add 198.51.100.1/32 via 192.0.2.1
}

# WireGuard: keys, one wg-quick file per end (the backend's with AllowedIPs
# 0.0.0.0/0, ::/0 and Table = off), wg-quick up with wireguard-go.
wireguard_up() {
	local d=$TMP/wireguard fkey bkey
	TF=trwf$N
	TB=trwb$N
	mkdir -p "$d"
	fkey=$(wg genkey) && bkey=$(wg genkey) || return 1
	(umask 077
	cat >"$d/$TF.conf" <<EOF
# the front: its peer is the backend, which sends from its tunnel addresses
[Interface]
PrivateKey = $fkey
ListenPort = 51820
Address = 10.22.22.2/24, fd22::2/64
MTU = 1420

[Peer]
PublicKey = $(echo "$bkey" | wg pubkey)
AllowedIPs = 10.22.22.1/32, fd22::1/128
Endpoint = $UL_B:51820
EOF
	cat >"$d/$TB.conf" <<EOF
# the backend: packets from the front carry client addresses
[Interface]
PrivateKey = $bkey
ListenPort = 51820
Address = 10.22.22.1/24, fd22::1/64
MTU = 1420
Table = off

[Peer]
PublicKey = $(echo "$fkey" | wg pubkey)
AllowedIPs = 0.0.0.0/0, ::/0
Endpoint = $UL_F:51820
EOF
	)
	# wg-quick falls back to WG_QUICK_USERSPACE_IMPLEMENTATION when the
	# kernel has no WireGuard: wireguard-go, here in the foreground so
	# that its pid is known
	cat >"$TMP/wg-userspace" <<EOF
#!/bin/sh
rm -f "$WGRUN/\$1.sock"
wireguard-go -f "\$1" >>"$TMP/wg-\$1.log" 2>&1 &
echo \$! >"$TMP/wg-\$1.pid"
i=0
while [ ! -S "$WGRUN/\$1.sock" ]; do
	[ \$i -lt 50 ] || exit 1
	sleep 0.1
	i=\$((i + 1))
done
EOF
	chmod +x "$TMP/wg-userspace"
	inF env WG_QUICK_USERSPACE_IMPLEMENTATION="$TMP/wg-userspace" \
	    wg-quick up "$d/$TF.conf" >>"$TMP/tunnel.log" 2>&1 || return 1
	inB env WG_QUICK_USERSPACE_IMPLEMENTATION="$TMP/wg-userspace" \
	    wg-quick up "$d/$TB.conf" >>"$TMP/tunnel.log" 2>&1 || return 1
}

# OpenVPN, point to point over UDP, one file per end: with a static key
# (OVPN_AUTH=static) or TLS with self-signed certificates, each end
# pinning the other's fingerprint (OVPN_AUTH=tls, the manual's replacement
# for static keys, which OpenVPN 2.7 removes).
openvpn_up() {
	local d=$TMP/openvpn n
	TF=trof$N
	TB=trob$N
	mkdir -p "$d"
	if [ "$OVPN_AUTH" = static ]; then
		(umask 077; openvpn --genkey secret "$d/static.key" >>"$TMP/tunnel.log" 2>&1) || return 1
	else
		for n in front back; do
			(umask 077; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			    -keyout "$d/$n.key" -out "$d/$n.crt" -nodes -sha256 -days 3650 \
			    -subj "/CN=$n" >>"$TMP/tunnel.log" 2>&1) || return 1
		done
	fi
	{ ovpn_conf "$TF" "$UL_F" "$UL_B" 10.22.22.2 10.22.22.1 fd22::2 fd22::1; ovpn_auth front back 0; } >"$d/front.conf"
	{ ovpn_conf "$TB" "$UL_B" "$UL_F" 10.22.22.1 10.22.22.2 fd22::1 fd22::2; ovpn_auth back front 1; } >"$d/back.conf"
	ip netns exec "$NS_F" openvpn --config "$d/front.conf" >"$TMP/ovpn-front.log" 2>&1 &
	echo $! >"$TMP/ovpn-front.pid"
	ip netns exec "$NS_B" openvpn --config "$d/back.conf" >"$TMP/ovpn-back.log" 2>&1 &
	echo $! >"$TMP/ovpn-back.pid"
	topo_wait 100 grep -q 'Initialization Sequence Completed' "$TMP/ovpn-front.log" &&
	    topo_wait 100 grep -q 'Initialization Sequence Completed' "$TMP/ovpn-back.log" || return 1
	# static key mode is deprecated (2.6): what this version says, once
	[ -n "${OVPN_SAID:-}" ] || [ "$OVPN_AUTH" != static ] ||
	    grep -h 'DEPRECAT' "$TMP/ovpn-front.log" | sed 's/^[-0-9]* [:0-9]* /# openvpn: /'
	[ "$OVPN_AUTH" = static ] && OVPN_SAID=1
	grep -h 'Data Channel: cipher' "$TMP/ovpn-front.log" | sed 's/^[-0-9]* [:0-9]* /# openvpn: /'
}

# ovpn_conf DEV LOCAL REMOTE IP PEER IP6 PEER6: one end's file, but its keys
ovpn_conf() {
	cat <<EOF
dev $1
dev-type tun
proto udp
local $2
remote $3
port 1194
ifconfig $4 $5
ifconfig-ipv6 $6/64 $7
tun-mtu 1400
keepalive 10 60
verb 3
EOF
}

# ovpn_auth THIS OTHER KEYDIR: the keys of one end's file
ovpn_auth() {
	local d=$TMP/openvpn
	if [ "$OVPN_AUTH" = static ]; then
		printf 'secret %s %s\ncipher AES-256-CBC\nauth SHA256\n' "$d/static.key" "$3"
		return
	fi
	if [ "$1" = front ]; then printf 'tls-server\ndh none\n'; else echo tls-client; fi
	printf 'cert %s\nkey %s\npeer-fingerprint %s\n' "$d/$1.crt" "$d/$1.key" \
	    "$(openssl x509 -fingerprint -sha256 -noout -in "$d/$2.crt" | sed 's/.*=//')"
}

front_conf() {
	cat <<EOF
[front]
public_interface = f-eth0
tunnel_interface = $TF
backend = 10.22.22.1, fd22::1
exclude = $EXCLUDE
mss_clamp = pmtu
metrics = 9731
control_socket = $TMP/front.sock
state_file = $TMP/front.state
EOF
}

back_conf() {
	cat <<EOF
[back]
tunnel_interface = $TB
front = 10.22.22.2, fd22::2
mark = auto
control_socket = $TMP/back.sock
EOF
}

# ip netns exec execs the daemon: $! is the daemon itself
start_back() {
	ip netns exec "$NS_B" "$BIN" run -c "$BCONF" >>"$TMP/back.log" 2>&1 &
	BPID=$!
	topo_wait 100 grep -q 'ready:' "$TMP/back.log"
}
start_front() {
	ip netns exec "$NS_F" "$BIN" run -c "$FCONF" >>"$TMP/front.log" 2>&1 &
	FPID=$!
	topo_wait 100 inF "$BIN" stats -c "$FCONF"
}
stop() {
	local pid=$1 rc
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	return $rc
}
rx_bytes() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/rx_bytes"; }

# bulk DESC COMMAND...: a bulk.py transfer; its own line says how long it took
bulk() {
	local desc=$1 out; shift
	if out=$("$@" 2>&1); then ok "$desc: $out"; else not_ok "$desc: $out"; fi
}

# tunnel KIND MTU UNDERLAY: the whole keep-client-ip run over one tunnel
tunnel() {
	local kind=$1 mtu=$2 k=$1 t0 t1 rc rx0 rx1 mss
	t0=$(date +%s)
	[ "$3" = private ] || k="$kind/public"
	# over the public interface the tunnel's port must stay with the
	# front: WireGuard's 51820 does (an ephemeral port), OpenVPN's 1194 is
	# excluded
	EXCLUDE=tcp/22
	[ "$k" = openvpn/public ] && EXCLUDE="tcp/22, udp/1194"
	# OpenVPN: a static key over the private underlay, TLS over the public
	OVPN_AUTH=static
	[ "$3" = private ] || OVPN_AUTH=tls
	: >"$TMP/front.log"; : >"$TMP/back.log"; : >"$TMP/tunnel.log"
	net_up "$3" || { not_ok "$k: namespaces"; return 1; }
	if ! "${kind}_up"; then
		not_ok "$k: tunnel did not come up"
		cat "$TMP/tunnel.log" "$TMP"/ovpn-*.log "$TMP"/wg-*.log 2>/dev/null
		return 1
	fi
	if [ "$kind" = openvpn ]; then ok "$k: tunnel up ($TF on the front, $TB on the backend, $OVPN_AUTH keys)"
	else ok "$k: tunnel up ($TF on the front, $TB on the backend)"; fi
	if topo_wait 100 inF ping -c 1 -W 1 10.22.22.1; then ok "$k: the front reaches the backend's tunnel address"
	else not_ok "$k: the front reaches the backend's tunnel address"; return 1; fi
	check "$k: the backend reaches the front's tunnel address (IPv6)" topo_wait 50 inB ping -c 1 -W 1 fd22::2
	expect "$k: tunnel MTU $mtu" "mtu $mtu " inF ip link show "$TF"

	topo_services "$PEER" "$TMP/icmp.log" || { not_ok "$k: services"; return 1; }
	# UDP services bound to the wildcard, answering without IP_PKTINFO
	topo_bg "$NS_B" python3 "$PEER" serve-udp 0.0.0.0 5353
	topo_bg "$NS_B" python3 "$PEER" serve-udp :: 5354
	# bulk: port 9001 talks first (download), 9002 reads (upload)
	topo_bg "$NS_B" python3 "$BULK" serve 0.0.0.0 9001 9002 "$SIZE"
	topo_wait 50 sh -c "ip netns exec $NS_B ss -ltn | grep -q ':9002 '"

	front_conf >"$FCONF"
	back_conf >"$BCONF"
	expect "$k: tunrelay check (back)" 'configuration OK' inB "$BIN" check -c "$BCONF"
	expect "$k: tunrelay check (front)" 'configuration OK' inF "$BIN" check -c "$FCONF"
	start_back || { not_ok "$k: back did not come up"; cat "$TMP/back.log"; return 1; }
	check "$k: back chose connmark" grep -q 'using connmark' "$TMP/back.log"
	if [ "$k" = openvpn/public ]; then
		# first without udp/1194 excluded: the backend's tunnel packets to
		# the public address are relayed (into the tunnel), the tunnel is
		# cut; the exclusion on SIGHUP mends it
		EXCLUDE=tcp/22 front_conf >"$FCONF"
		start_front || { not_ok "$k: front did not come up"; cat "$TMP/front.log"; return 1; }
		inF ping -c 2 -W 1 10.22.22.1 >/dev/null 2>&1
		expect "$k: without exclude = udp/1194 the front relays the tunnel's own packets" \
		    'src=192\.0\.2\.2 dst=198\.51\.100\.1 sport=1194 dport=1194 .*rule="backend 10\.22\.22\.1"' inF "$BIN" flows -c "$FCONF"
		front_conf >"$FCONF"
		kill -HUP "$FPID"
		if topo_wait 50 inF ping -c 1 -W 1 10.22.22.1; then ok "$k: SIGHUP with exclude = $EXCLUDE: the tunnel works again"
		else not_ok "$k: SIGHUP with exclude = $EXCLUDE: the tunnel works again"; fi
	else
		start_front || { not_ok "$k: front did not come up"; cat "$TMP/front.log"; return 1; }
	fi
	ok "$k: front and back are up"

	expect "$k: TCP v4: backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$k: TCP v6: backend sees the client" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
	expect "$k: UDP v4 to the tunnel address: answer from the public address" '^from=198\.51\.100\.1 peer=198\.51\.100\.10$' inC python3 "$PEER" udp-from 198.51.100.1 53
	expect "$k: UDP v4 service on 0.0.0.0: answer from the public address" '^from=198\.51\.100\.1 peer=198\.51\.100\.10$' inC python3 "$PEER" udp-from 198.51.100.1 5353
	expect "$k: UDP v6 service on ::: answer from the public address" '^from=2001:db8:100::1 peer=2001:db8:100::10$' inC python3 "$PEER" udp-from 2001:db8:100::1 5354
	: >"$TMP/icmp.log"
	check "$k: ping to the public address answered" inC ping -c 2 -W 2 198.51.100.1
	expect "$k: the echo requests reached the backend from the client" 'from 198\.51\.100\.10' cat "$TMP/icmp.log"
	mss=$(inC python3 "$PEER" tcp-who 198.51.100.1 80 | sed -n 's/.*mss=\([0-9]*\).*/\1/p')
	if [ -n "$mss" ] && [ "$mss" -le $((mtu - 40)) ]; then ok "$k: MSS clamped to the tunnel (backend sees mss $mss)"
	else not_ok "$k: MSS clamped to the tunnel (backend sees mss '$mss', want <= $((mtu - 40)))"; fi

	# path MTU: a DF packet of the tunnel's MTU passes, one 8 bytes above
	# it gets "frag needed" from the public address (the engine answers it,
	# from the tunnel's MTU: too_big); over IPv6 the front answers pings
	# itself, so a UDP datagram shows it ("packet too big")
	check "$k: DF ping of $mtu bytes (the tunnel MTU) answered" inC ping -M "do" -s $((mtu - 28)) -c 1 -W 2 198.51.100.1
	expect "$k: DF ping of $((mtu + 8)) bytes: frag needed from the public address, mtu $mtu" "From 198\.51\.100\.1 .*Frag needed.*mtu = $mtu\)" inC ping -M "do" -s $((mtu - 20)) -c 1 -W 2 198.51.100.1
	expect "$k: UDP v6 over the tunnel MTU: the client learns path MTU $mtu" "^mtu=$mtu\$" inC python3 "$PEER" udp-pmtu 2001:db8:100::1 53 $((mtu + 30))

	rx0=$(rx_bytes "$NS_F" "$TF")
	bulk "$k: 30 MB download (server talks first)" inC python3 "$BULK" get 198.51.100.1 9001 "$SIZE" 60
	bulk "$k: 30 MB upload" inC python3 "$BULK" put 198.51.100.1 9002 "$SIZE" 60
	rx1=$(rx_bytes "$NS_F" "$TF")
	if [ $((rx1 - rx0)) -ge "$SIZE" ]; then ok "$k: the download came back through the tunnel ($((rx1 - rx0)) bytes in on $TF)"
	else not_ok "$k: the download came back through the tunnel (only $((rx1 - rx0)) bytes in on $TF)"; fi

	expect "$k: too_big counted" '^too_big [1-9]' inF "$BIN" stats -c "$FCONF"
	if [ "$k" = wireguard/public ]; then
		if inF "$BIN" flows -c "$FCONF" | grep -q 'dport=51820 '; then not_ok "$k: port 51820 (ephemeral) stays with the front: a flow took it"
		else ok "$k: port 51820 (ephemeral) stays with the front: no flow of the tunnel's packets"; fi
	fi

	# a tunnel restart deletes and makes again both ends' interfaces
	# (wg-quick down and up; OpenVPN stopped with SIGTERM and started
	# again, without persist-tun) while the front and the back run
	if [ "$kind" = wireguard ]; then
		inF wg-quick down "$TMP/wireguard/$TF.conf" >>"$TMP/tunnel.log" 2>&1
		inB wg-quick down "$TMP/wireguard/$TB.conf" >>"$TMP/tunnel.log" 2>&1
	fi
	tunnels_down
	if ! "${kind}_up"; then not_ok "$k: tunnel restart"; return 1; fi
	t1=$(date +%s%N)
	if topo_wait 150 inC python3 "$PEER" tcp-who 198.51.100.1 80; then ok "$k: after a tunnel restart: the relay works again ($((($(date +%s%N) - t1) / 1000000)) ms after the tunnel was up)"
	else not_ok "$k: after a tunnel restart: the relay works again (within 15 s)"; fi
	expect "$k: after a tunnel restart: TCP v4: backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
	expect "$k: after a tunnel restart: TCP v6: backend sees the client" '^peer=2001:db8:100::10 ' inC python3 "$PEER" tcp-who 2001:db8:100::1 80
	expect "$k: after a tunnel restart: UDP on 0.0.0.0" '^from=198\.51\.100\.1 peer=198\.51\.100\.10$' inC python3 "$PEER" udp-from 198.51.100.1 5353
	check "$k: after a tunnel restart: ping to the public address answered" inC ping -c 2 -W 2 198.51.100.1
	check "$k: after a tunnel restart: DF ping of $mtu bytes answered" inC ping -M "do" -s $((mtu - 28)) -c 1 -W 2 198.51.100.1
	bulk "$k: after a tunnel restart: 30 MB download" inC python3 "$BULK" get 198.51.100.1 9001 "$SIZE" 60

	expect "$k: tunrelay flows shows both tuples" 'src=198\.51\.100\.10 dst=198\.51\.100\.1 .* src=10\.22\.22\.1 dst=198\.51\.100\.10 .*\[ASSURED\]' inF "$BIN" flows -c "$FCONF"
	expect "$k: tunrelay stats counts forwarded packets" '^forwarded [1-9]' inF "$BIN" stats -c "$FCONF"
	expect "$k: metrics: forwarded packets" '^tunrelay_forwarded_total [1-9]' inF curl -sf --max-time 5 http://127.0.0.1:9731/metrics
	expect "$k: the back answers tunrelay stats" '.' inB "$BIN" stats -c "$BCONF"

	stop "$FPID"; rc=$?; FPID=
	if [ "$rc" = 0 ]; then ok "$k: front: SIGTERM: exit 0"; else not_ok "$k: front: SIGTERM: exit $rc"; fi
	stop "$BPID"; rc=$?; BPID=
	if [ "$rc" = 0 ]; then ok "$k: back: SIGTERM: exit 0"; else not_ok "$k: back: SIGTERM: exit $rc"; fi
	# fail: the tally of tap.sh
	# shellcheck disable=SC2154
	if [ "$fail" -gt 0 ]; then
		echo "--- $k: front log"; cat "$TMP/front.log"
		echo "--- $k: back log"; cat "$TMP/back.log"
	fi
	tunnels_down
	topo_down
	if [ "$kind" = wireguard ]; then
		if [ -e "$WGRUN/$TF.sock" ] || [ -e "$WGRUN/$TB.sock" ]; then not_ok "$k: wireguard-go sockets left in $WGRUN"
		else ok "$k: wireguard-go stopped, no socket left in $WGRUN"; fi
	fi
	echo "# $k: $(($(date +%s) - t0)) s"
}

# tunnel_runs KIND MTU: the runs of UNDERLAYS, each in fresh namespaces
tunnel_runs() {
	local u
	for u in ${UNDERLAYS:-private public}; do
		tunnel "$1" "$2" "$u"
		tunnels_down
		topo_down
	done
}
