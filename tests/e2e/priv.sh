#!/bin/bash
# End-to-end: least privilege on the keep-client-ip topology (tests/e2e/topo.sh).
#  - The front runs with CAP_NET_ADMIN as its only capability, as root and
#    as an unprivileged user with the ambient capability, and relays.
#  - Without CAP_NET_ADMIN it refuses to start, names the capability, and
#    changes nothing.
#  - The control socket answers its owner, root and members of
#    control_group, and refuses any other user.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init priv ip nft python3 ethtool setpriv unshare mknod
# (skip needs tap.sh, sourced by init.sh)
getent passwd nobody >/dev/null || skip "no user nobody"
getent group daemon >/dev/null || skip "no group daemon"
chmod 755 "$TMP"
CONF=$TMP/front.ini
NOBODY=$(id -u nobody)

e2e_watchdog 120

refuse() {
	local desc=$1; shift
	if "$@" >/dev/null 2>&1; then not_ok "$desc"; else ok "$desc"; fi
}
ours() { { inF ip rule show; inF ip -6 rule show; } | grep -c 'proto 222'; }
# only CAP_NET_ADMIN, in every set, for root (uid 0 kept)
ONLY_NET_ADMIN="setpriv --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin"
# start DESC SETPRIV...: the front under setpriv, in the front's namespace
start() {
	ip netns exec "$NS_F" "$@" "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
	DPID=$!
	topo_wait 100 inF "$BIN" stats -c "$CONF"
}
stop() {
	kill -TERM "$DPID"; wait "$DPID"; local rc=$?; DPID=
	return $rc
}
capeff() { awk '/^CapEff/ { print $2 }' "/proc/$DPID/status"; }

topo_up || { echo "not ok - topology"; exit 1; }
topo_backend_recipe || { echo "not ok - backend recipe"; exit 1; }
topo_services "$PEER" "$TMP/icmp.log" || { echo "not ok - services"; exit 1; }
mkdir -m 0755 "$TMP/run"
topo_front_conf "$TMP/run/ctl.sock" >"$CONF"
chmod 644 "$CONF"

# --- root with CAP_NET_ADMIN only ----------------------------------------------
# shellcheck disable=SC2086
start $ONLY_NET_ADMIN || { not_ok "front did not come up with CAP_NET_ADMIN alone"; cat "$TMP/front.log"; exit 1; }
if [ "$(capeff)" = 0000000000001000 ]; then ok "root, CAP_NET_ADMIN alone (CapEff $(capeff)): running"
else not_ok "root: CapEff $(capeff), want 0000000000001000"; fi
expect "root, CAP_NET_ADMIN alone: relays, backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "root, CAP_NET_ADMIN alone: UDP too" '^peer=198\.51\.100\.10$' inC python3 "$PEER" udp-who 198.51.100.1 53
# control socket: owner root, mode 0600 without control_group
refuse "control socket (no control_group): user nobody is refused" \
    ip netns exec "$NS_F" setpriv --reuid="$NOBODY" --regid=nogroup --clear-groups "$BIN" stats -c "$CONF"
expect "control socket: mode 0600" '^600 ' stat -c '%a %U' "$TMP/run/ctl.sock"
if stop; then ok "root, CAP_NET_ADMIN alone: clean exit"; else not_ok "root, CAP_NET_ADMIN alone: exit status"; fi
if [ "$(ours)" = 0 ]; then ok "root, CAP_NET_ADMIN alone: every rule removed at exit"; else not_ok "rules left at exit"; fi

# --- the control socket with control_group (relay as root, CAP_NET_ADMIN alone)
{ topo_front_conf "$TMP/run/ctl.sock"; echo "control_group = daemon"; } >"$CONF"
# without CAP_CHOWN the relay must be a member of the group to give it the
# socket: the start checks refuse it, before anything is installed
# shellcheck disable=SC2086 # $ONLY_NET_ADMIN: a command prefix, split on purpose
expect "control_group without membership or CAP_CHOWN: refused, saying why" 'is not in the group and lacks CAP_CHOWN.*SupplementaryGroups=daemon' \
    timeout 20 ip netns exec "$NS_F" $ONLY_NET_ADMIN "$BIN" run -c "$CONF"
# shellcheck disable=SC2086
start $ONLY_NET_ADMIN --groups=daemon || not_ok "front did not come up with control_group"
expect "control socket: group daemon, mode 0660" '^660 daemon$' stat -c '%a %G' "$TMP/run/ctl.sock"
expect "control socket: root is answered" '^forwarded [0-9]' inF "$BIN" stats -c "$CONF"
expect "control socket: a member of control_group is answered" '^forwarded [0-9]' \
    ip netns exec "$NS_F" setpriv --reuid="$NOBODY" --regid=nogroup --groups=daemon "$BIN" stats -c "$CONF"
refuse "control socket: another user (nobody, not in the group) is refused" \
    ip netns exec "$NS_F" setpriv --reuid="$NOBODY" --regid=nogroup --clear-groups "$BIN" stats -c "$CONF"
if stop; then ok "control_group run: clean exit"; else not_ok "control_group run: exit status"; fi

# --- an unprivileged user with the ambient capability ---------------------------
# The user needs /dev/net/tun read-write (mode 0666 on most systems). Where
# it is 0600, the relay gets a 0666 node of the same device bind-mounted
# over it in a mount namespace of its own: the host's node is not touched.
TUNDEV=
if ! setpriv --reuid="$NOBODY" --regid=nogroup --clear-groups test -r /dev/net/tun -a -w /dev/net/tun; then
	mknod -m 666 "$TMP/tun" c 10 200 && TUNDEV=$TMP/tun
fi
chown nobody "$TMP/run"
{ topo_front_conf "$TMP/run/ctl.sock"; echo "control_group = daemon"; } >"$CONF"
AS_NOBODY="setpriv --reuid=$NOBODY --regid=nogroup --groups=daemon --inh-caps=-all,+net_admin --ambient-caps=-all,+net_admin --bounding-set=-all,+net_admin"
if [ -n "$TUNDEV" ]; then
	# shellcheck disable=SC2086,SC2016 # split on purpose; $0 and $@ are the inner sh's
	unshare -m --propagation private sh -c 'mount --bind "$0" /dev/net/tun && exec "$@"' \
	    "$TUNDEV" ip netns exec "$NS_F" $AS_NOBODY "$BIN" run -c "$CONF" >>"$TMP/front.log" 2>&1 &
	DPID=$!
	topo_wait 100 inF "$BIN" stats -c "$CONF"
else
	# shellcheck disable=SC2086
	start $AS_NOBODY
fi || not_ok "front did not come up as nobody"
if [ "$(stat -c %u "/proc/$DPID")" = "$NOBODY" ] && [ "$(capeff)" = 0000000000001000 ]; then
	ok "user nobody with ambient CAP_NET_ADMIN: running (CapEff $(capeff))"
else
	not_ok "user nobody with ambient CAP_NET_ADMIN: not running as expected"
fi
expect "user nobody: relays, backend sees the client" '^peer=198\.51\.100\.10 ' inC python3 "$PEER" tcp-who 198.51.100.1 80
expect "control socket: its owner (nobody) is answered" '^forwarded [1-9]' \
    ip netns exec "$NS_F" setpriv --reuid="$NOBODY" --regid=nogroup --clear-groups "$BIN" stats -c "$CONF"
refuse "control socket: another user (daemon, not in the group) is refused" \
    ip netns exec "$NS_F" setpriv --reuid=daemon --regid=nogroup --clear-groups "$BIN" stats -c "$CONF"
if stop; then ok "user nobody: clean exit"; else not_ok "user nobody: exit status"; fi
if [ "$(ours)" = 0 ]; then ok "user nobody: every rule removed at exit"; else not_ok "user nobody: rules left at exit"; fi

# --- without CAP_NET_ADMIN --------------------------------------------------------
topo_front_conf "$TMP/run/ctl.sock" >"$CONF"
out=$(ip netns exec "$NS_F" setpriv --bounding-set=-net_admin --inh-caps=-net_admin "$BIN" run -c "$CONF" 2>&1)
rc=$?
if [ "$rc" = 1 ] && printf '%s' "$out" | grep -q 'needs CAP_NET_ADMIN'; then
	ok "without CAP_NET_ADMIN: refuses, naming it: $(printf '%s' "$out" | tail -1 | cut -c1-120)"
else
	not_ok "without CAP_NET_ADMIN: exit $rc: $out"
fi
if [ "$(ours)" = 0 ] && ! inF ip link show | grep -q trl-; then ok "without CAP_NET_ADMIN: nothing was changed"
else not_ok "without CAP_NET_ADMIN: objects were created"; fi

if [ "$fail" -gt 0 ]; then echo "--- front log"; grep -v "added\|removed\|restored" "$TMP/front.log" | tail -n 30; fi
e2e_summary
