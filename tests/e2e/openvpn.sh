#!/bin/bash
# End-to-end test of the keep-client-ip relay over OpenVPN in TUN mode: tunrelay
# front and back joined by a point-to-point tunnel (tun-mtu 1400), with a
# static key over a private underlay, and with TLS (self-signed
# certificates, peer-fingerprint) over the front's public interface, where
# the front excludes udp/1194 (without it the tunnel's own packets are
# relayed and the tunnel is cut). Topology and checks:
# tests/e2e/topo_tunnel.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init openvpn ip nft python3 ethtool ping curl openvpn openssl
# shellcheck source=tests/e2e/topo_tunnel.sh
. "$here/topo_tunnel.sh"

tunnel_init
tunnel_runs openvpn 1400
e2e_summary
