#!/bin/bash
# End-to-end test of the keep-client-ip relay over WireGuard: tunrelay front and
# back joined by wireguard-go, brought up by wg-quick (userspace fallback;
# the backend's peer has AllowedIPs 0.0.0.0/0, ::/0 with Table = off), over
# a private underlay and over the front's public interface. Topology and
# checks: tests/e2e/topo_tunnel.sh.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init wireguard ip nft python3 ethtool ping curl wireguard-go wg wg-quick
# shellcheck source=tests/e2e/topo_tunnel.sh
. "$here/topo_tunnel.sh"

tunnel_init
tunnel_runs wireguard 1420
e2e_summary
