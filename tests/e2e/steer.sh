#!/bin/bash
# steer.sh - test of the eBPF queue steering of tun/steer.c.
#
#   netns tr-steer-PID
#   +-----------------------------------------------------------+
#   | st0  TUN, 4 queues (IFF_MULTI_QUEUE), 10.98.0.1/32         |
#   |      fd00:98::1/128; 10.98.16.0/20 and fd00:98:1::/64      |
#   |      routed into it: what local sockets send there is read |
#   |      from the queues by steer_test                         |
#   +-----------------------------------------------------------+
#
# steer_test prog: the verifier on every program, BPF_PROG_TEST_RUN against
# a C reference; steer_test real st0: the kernel's choice of queue.
# Needs root and /dev/net/tun; otherwise exits 77 (skipped).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_require ip timeout

bin=
for b in ${STEER_TEST_BIN:-} "${top_builddir:-.}/tests/e2e/steer_test" \
    "$(dirname "$0")/steer_test"; do
	if [ -x "$b" ]; then
		bin=$b
		break
	fi
done
if [ -z "$bin" ]; then
	echo "FAIL: steer_test binary not found (build it first)"
	exit 1
fi

ns=tr-steer-$$
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! ip netns add "$ns" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces here"
	exit 77
fi
n() { ip -n "$ns" "$@"; }

rc=0
echo "# part 1: verifier and BPF_PROG_TEST_RUN"
ip netns exec "$ns" timeout 120 "$bin" prog || rc=$?
if [ "$rc" = 77 ]; then
	echo "SKIP: this process may not load eBPF programs"
	exit 77
fi

n link set lo up
n tuntap add dev st0 mode tun multi_queue
n link set st0 up
n addr add 10.98.0.1/32 dev st0
n -6 addr add fd00:98::1/128 dev st0 nodad
n route add 10.98.16.0/20 dev st0 src 10.98.0.1
n -6 route add fd00:98:1::/64 dev st0 src fd00:98::1
echo "# part 2: real steering of st0"
ip netns exec "$ns" timeout 120 "$bin" real st0 || rc=1
exit $rc
