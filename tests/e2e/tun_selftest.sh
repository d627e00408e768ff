#!/bin/bash
# tun_selftest.sh - end-to-end test of tun/ in fresh network namespaces.
#
#   relay netns tr-selftest-PID                    peer netns tr-selftest-PID-p
#   +--------------------------------------+       +---------------------------+
#   | trtunN  TUN (vnet hdr, 2 queues)     |       |                           |
#   | pub0    10.99.0.1/26   fd99::1/64    |<----->| peer0 10.99.0.2/26        |
#   |         ("public" side, clients)     | veth  |       fd99::2/64          |
#   | tnl0    10.99.0.65/26  fd99:1::1/64  |<----->| tpeer0 10.99.0.66/26      |
#   |         ("tunnel" side, backend)     | veth  |       fd99:1::2/64        |
#   +--------------------------------------+       +---------------------------+
#
# The C program applies a rule set and "crashes", then a second run
# reconciles the leftovers, checks rule lookups and real traffic from the
# peer (tcp/22 excluded: answered locally; tcp/80 captured: read from the
# TUN), removes everything and checks that the local rule is back.
# Needs root and /dev/net/tun; otherwise exits 77 (skipped).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_require ip

bin=
for b in ${TUN_SELFTEST_BIN:-} "${top_builddir:-.}/tests/e2e/tun_selftest" \
    "$(dirname "$0")/tun_selftest"; do
	if [ -x "$b" ]; then
		bin=$b
		break
	fi
done
if [ -z "$bin" ]; then
	echo "FAIL: tun_selftest binary not found (build it first)"
	exit 1
fi

relay=tr-selftest-$$
peer=tr-selftest-$$-p

cleanup() {
	ip netns del "$relay" 2>/dev/null || true
	ip netns del "$peer" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! ip netns add "$relay" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces here"
	exit 77
fi
ip netns add "$peer"

r() { ip -n "$relay" "$@"; }
p() { ip -n "$peer" "$@"; }

r link set lo up
p link set lo up
r link add pub0 type veth peer name peer0 netns "$peer"
r link add tnl0 type veth peer name tpeer0 netns "$peer"
r addr add 10.99.0.1/26 dev pub0
r addr add 10.99.0.65/26 dev tnl0
r -6 addr add fd99::1/64 dev pub0 nodad
r -6 addr add fd99:1::1/64 dev tnl0 nodad
p addr add 10.99.0.2/26 dev peer0
p addr add 10.99.0.66/26 dev tpeer0
p -6 addr add fd99::2/64 dev peer0 nodad
p -6 addr add fd99:1::2/64 dev tpeer0 nodad
for l in pub0 tnl0; do r link set "$l" up; done
for l in peer0 tpeer0; do p link set "$l" up; done

# Objects that are not ours, inside our priority range and table: they must survive.
r rule add pref 1050 iif pub0 ipproto tcp dport 443 lookup main
r route add 192.0.2.0/24 dev tnl0 table 100

rc=0
echo "# run 1: apply rule set A and exit without cleanup (a crash)"
ip netns exec "$relay" timeout 30 "$bin" crash "$peer" || rc=1
echo "# rules left behind:"
r rule show | sed 's/^/#   /'
if [ -n "${TUN_SELFTEST_PAUSE:-}" ]; then
	ip netns exec "$relay" sh -c "$TUN_SELFTEST_PAUSE" || true
fi
echo "# run 2: reconcile, check, remove"
ip netns exec "$relay" timeout 60 "$bin" main "$peer" || rc=1
echo "# rules at the end:"
r rule show | sed 's/^/#   /'
r -6 rule show | sed 's/^/#   /'
exit $rc
