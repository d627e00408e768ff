#!/bin/sh
# Every example configuration in examples/ passes `tunrelay check`: the file
# itself and the host checks, on a host that has the interfaces it names.
# Two network namespaces made here stand in for the hosts (eth0 is a veth
# whose peer eth0-peer stays in the namespace: this kernel has no dummy):
#
#   front host (tr-exf-PID)                    backend (tr-exb-PID)
#     eth0 (veth)  198.51.100.1/24                wg0 (veth) 10.22.22.1/24
#                  192.168.1.34/24 (port forward)      |
#                  203.0.113.1/24  (hairpin)      |
#     wg0 (veth)   10.22.22.2/24 ------------------+
#     wg1 (veth)   10.23.23.2/24 ----------------- wg1 (veth) 10.23.23.1/24
#                  (a second front, many-fronts-back.ini)
#     br0 (bridge) 192.168.0.1/24  (hairpin LAN)
#
# Needs root (namespaces) and /dev/net/tun; exits 77 without them.
set -u

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root for network namespaces"
[ -c /dev/net/tun ] || skip "/dev/net/tun is missing"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"

BIN=${top_builddir:?run me from make check}/tunrelay
EX=${top_srcdir:?}/examples
NSF=tr-exf-$$
NSB=tr-exb-$$
pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }

cleanup() {
	ip netns del "$NSF" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	return 0
}
trap cleanup EXIT

{ ip netns add "$NSF" && ip netns add "$NSB"; } || { echo "not ok - netns"; exit 1; }
set -e
ip -n "$NSF" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSF" link add eth0 type veth peer name eth0-peer
ip -n "$NSF" link set eth0-peer up
ip -n "$NSF" addr add 198.51.100.1/24 dev eth0
ip -n "$NSF" addr add 192.168.1.34/24 dev eth0
ip -n "$NSF" addr add 203.0.113.1/24 dev eth0
ip -n "$NSF" link set eth0 up
ip -n "$NSF" link add br0 type bridge
ip -n "$NSF" addr add 192.168.0.1/24 dev br0
ip -n "$NSF" link set br0 up
ip link add wg0 netns "$NSF" type veth peer name wg0 netns "$NSB"
ip -n "$NSF" addr add 10.22.22.2/24 dev wg0
ip -n "$NSB" addr add 10.22.22.1/24 dev wg0
ip -n "$NSF" link set wg0 up
ip -n "$NSB" link set wg0 up
ip link add wg1 netns "$NSF" type veth peer name wg1 netns "$NSB"
ip -n "$NSF" addr add 10.23.23.2/24 dev wg1
ip -n "$NSB" addr add 10.23.23.1/24 dev wg1
ip -n "$NSF" link set wg1 up
ip -n "$NSB" link set wg1 up
set +e

# check NS FILE: `tunrelay check` must say "configuration OK" and exit 0
check() {
	out=$(ip netns exec "$1" "$BIN" check -c "$EX/$2" 2>&1)
	rc=$?
	if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -qx 'configuration OK'; then
		ok "$2: configuration OK"
	else
		not_ok "$2: exit $rc: $out"
	fi
}
check "$NSF" keep-client-ip-front.ini
check "$NSF" port-forward.ini
check "$NSF" hairpin.ini
check "$NSF" backends.ini
check "$NSB" keep-client-ip-back.ini
check "$NSB" many-fronts-back.ini

# the same check fails where the interfaces are missing: this test can fail
out=$(ip netns exec "$NSB" "$BIN" check -c "$EX/hairpin.ini" 2>&1)
if [ $? = 1 ] && printf '%s\n' "$out" | grep -q 'eth0'; then
	ok "hairpin.ini fails on a host without eth0 (exit 1, names eth0)"
else
	not_ok "hairpin.ini on a host without eth0: $out"
fi

# What the unit's ExecStopPost does after a crash: `tunrelay run` with an
# example is killed with SIGKILL; `tunrelay cleanup` must leave nothing of it.
TMP=$(mktemp -d /tmp/tunrelay-examples.XXXXXX) || exit 1
trap 'cleanup; rm -rf "$TMP"' EXIT
# tagged rules (proto 222), routes in tunrelay's tables, nft table, devices
leftovers() {
	{
		ip -n "$1" -4 rule show; ip -n "$1" -6 rule show
	} | grep 'proto 222'
	for t in 7331 7332 7333 7340 7341 7342 7343; do
		ip -n "$1" -4 route show table $t 2>/dev/null
		ip -n "$1" -6 route show table $t 2>/dev/null
	done
	ip netns exec "$1" nft list table inet tunrelay_back 2>/dev/null | head -1
	ip -n "$1" link show | grep -o 'trl-[a-z]*'
}
# crash NS FILE WHAT: run, wait for WHAT in the log, SIGKILL, cleanup
crash() {
	ns=$1 f=$TMP/$2
	sed "/^\[\\(front\\|back\\)\]/a control_socket = $TMP/$2.sock" "$EX/$2" >"$f"
	ip netns exec "$ns" "$BIN" run -c "$f" >"$f.log" 2>&1 &
	pid=$!
	i=0
	while ! grep -qs "$3" "$f.log" && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if [ -z "$(leftovers "$ns")" ]; then
		not_ok "$2: nothing installed: $(cat "$f.log")"
		kill -9 $pid 2>/dev/null
		return
	fi
	kill -9 $pid; wait $pid 2>/dev/null
	if [ -n "$(leftovers "$ns")" ]; then
		ok "$2: SIGKILL leaves rules behind (as expected)"
	else
		not_ok "$2: SIGKILL left nothing: the check below proves nothing"
	fi
	if ip netns exec "$ns" "$BIN" cleanup -c "$f" >"$f.clean" 2>&1 &&
	    [ -z "$(leftovers "$ns")" ] &&
	    ip -n "$ns" -4 rule show | grep -q '^0:.*lookup local'; then
		ok "$2: tunrelay cleanup after SIGKILL leaves nothing, rule 0 back"
	else
		not_ok "$2: after cleanup: $(cat "$f.clean") $(leftovers "$ns")"
	fi
}
crash "$NSF" keep-client-ip-front.ini 'relaying\|ready'
if command -v nft >/dev/null; then
	crash "$NSB" keep-client-ip-back.ini 'ready:'
	crash "$NSB" many-fronts-back.ini 'ready:'
else
	echo "# nft not installed: back cleanup not tested"
fi

# cleanup with a [back] file does not touch a front running on the same host
f=$TMP/front.ini
sed "/^\[\\(front\\|back\\)\]/a control_socket = $TMP/front.sock" "$EX/keep-client-ip-front.ini" >"$f"
ip netns exec "$NSF" "$BIN" run -c "$f" >"$f.log" 2>&1 &
pid=$!
i=0
while ! ip netns exec "$NSF" "$BIN" stats -c "$f" >/dev/null 2>&1 && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
before=$(leftovers "$NSF" | wc -l)
if ip netns exec "$NSF" "$BIN" cleanup -c "$TMP/keep-client-ip-back.ini" >/dev/null 2>&1 &&
    [ "$before" -gt 0 ] && [ "$(leftovers "$NSF" | wc -l)" = "$before" ]; then
	ok "cleanup of a [back] file leaves a running front alone ($before objects)"
else
	not_ok "cleanup of a [back] file with a front running: $before -> $(leftovers "$NSF" | wc -l)"
fi
kill -TERM $pid; wait $pid 2>/dev/null

# every example is covered above
n=$(find "$EX" -maxdepth 1 -name '*.ini' | wc -l)
if [ "$n" = 6 ]; then
	ok "examples/ holds the 6 files checked here"
else
	not_ok "examples/ holds $n .ini files; check each one here"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
