#!/bin/bash
# check and run agree: for each start-time failure provoked here,
# `tunrelay check` reports it ("error:", with its fix, exit 1) and `tunrelay
# run` fails with a "fatal:" line, leaving no rule behind. On the keep-client-ip
# topology (tests/e2e/topo.sh), in namespaces made by this test:
#
#   client c-eth0 --- f-eth0 front f-wg0 --- b-wg0 backend
#
# Cases: an unknown control_group; a listen address the public interface
# does not have; an ambiguous bare IPv6 `to`; two missing interfaces (both
# named); backend = the front's own tunnel address; a control_socket path
# that is a file; a metrics port in use; a [back] with a missing tunnel.
# Also: cleanup of a missing file, flows of a [back], check of a FIFO and of
# "-". A good config first, so that a run that cannot start is the failure.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init parity ip python3 ethtool timeout
e2e_watchdog 240

topo_up || { echo "not ok - topology"; exit 1; }

# our rules in the front's namespace (proto 222 is tunrelay's)
our_rules() { { ip -n "${NS:-$NS_F}" rule show; ip -n "${NS:-$NS_F}" -6 rule show; } | grep -c "proto 222"; }

# check_says DESC FILE PATTERN: check exits 1, prints PATTERN on an error:
# line with a fix, and never "configuration OK"
check_says() {
	local desc=$1 file=$2 pat=$3 rc
	timeout 20 ip netns exec "${NS:-$NS_F}" "$BIN" check -c "$file" >"$TMP/c.out" 2>"$TMP/c.err"
	rc=$?
	if [ "$rc" = 1 ] && grep -Eq -- "$pat" "$TMP/c.err" &&
	    ! grep -q 'configuration OK' "$TMP/c.out"; then
		ok "check: $desc"
	else
		not_ok "check: $desc (rc=$rc, wanted /$pat/ on stderr, got: $(head -c 600 "$TMP/c.err" "$TMP/c.out"))"
	fi
}

# run_fails DESC FILE PATTERN: run exits non-zero within 20 s with a fatal:
# line matching PATTERN (or a fatal: line after an error: line matching it),
# and no rule of ours stays
run_fails() {
	local desc=$1 file=$2 pat=$3 rc
	timeout 20 ip netns exec "${NS:-$NS_F}" "$BIN" run -c "$file" >"$TMP/r.out" 2>&1
	rc=$?
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q 'fatal: ' "$TMP/r.out" &&
	    grep -Eq -- "$pat" "$TMP/r.out" && [ "$(our_rules)" = 0 ]; then
		ok "run: $desc"
	else
		not_ok "run: $desc (rc=$rc, rules left: $(our_rules), got: $(head -c 600 "$TMP/r.out"))"
	fi
}

conf() { topo_front_conf "$TMP/ctl.sock"; }

# ------------------------------------------------------- a good config
conf >"$TMP/good.ini"
expect "check: the good config is OK" '^configuration OK$' inF "$BIN" check -c "$TMP/good.ini"
ip netns exec "$NS_F" "$BIN" run -c "$TMP/good.ini" >"$TMP/good.log" 2>&1 &
DPID=$!
if topo_wait 100 inF "$BIN" stats -c "$TMP/good.ini" && [ "$(our_rules)" -gt 0 ]; then
	ok "run: the good config comes up ($(our_rules) rules of ours)"
else not_ok "run: the good config comes up ($(head -c 400 "$TMP/good.log"))"; fi
kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; DPID=
[ "$(our_rules)" = 0 ] || not_ok "the good run removed its rules"

# ------------------------------------------------------- control_group
{ conf; echo "control_group = trl-nosuchgroup"; } >"$TMP/group.ini"
check_says "an unknown control_group" "$TMP/group.ini" 'error: control_group = trl-nosuchgroup: no such group.*fix:'
run_fails "an unknown control_group" "$TMP/group.ini" 'control_group = trl-nosuchgroup: no such group'

# ------------------------------------------------------- listen address
{ conf; printf '[forward.web]\nproto = tcp\nlisten = 203.0.113.99:81\nto = 10.22.22.1:80\n'; } >"$TMP/listen.ini"
check_says "a listen address the public interface lacks" "$TMP/listen.ini" \
    'error: \[forward\.web\] listen: 203\.0\.113\.99 is not an address of public_interface f-eth0.*fix: ip addr add 203\.0\.113\.99/32 dev f-eth0'
run_fails "a listen address the public interface lacks" "$TMP/listen.ini" '203\.0\.113\.99 is not an address'

# ------------------------------------------------------- ambiguous v6 to
{ conf; printf '[forward.v6]\nproto = tcp\nlisten = 8080\nto = fd22::1:80\n'; } >"$TMP/v6.ini"
check_says "an ambiguous bare IPv6 to" "$TMP/v6.ini" 'to: "fd22::1:80" reads as an IPv6 address or as address fd22::1 with port 80 .*\[fd22::1\]:80'
run_fails "an ambiguous bare IPv6 to" "$TMP/v6.ini" 'reads as an IPv6 address or as address'
{ conf; printf '[forward.v6]\nproto = tcp\nlisten = 8080\nto = fd22::1\n'; } >"$TMP/v6ok.ini"
expect "check: a bare IPv6 to without a port-like ending is accepted" '^configuration OK$' \
    inF "$BIN" check -c "$TMP/v6ok.ini"

# ------------------------------------------------------- two missing interfaces
conf | sed -e 's/^public_interface = .*/public_interface = eth9/' \
    -e 's/^tunnel_interface = .*/tunnel_interface = wg7/' >"$TMP/links.ini"
check_says "a missing public interface is named" "$TMP/links.ini" 'error: \[front\] public_interface eth9: .*fix:'
check_says "a missing tunnel interface is named too" "$TMP/links.ini" 'error: \[front\] tunnel_interface wg7: .*fix:'
n=$(grep -c 'error: ' "$TMP/c.err")
if [ "$n" -ge 2 ]; then ok "check: both problems in one pass ($n errors)"; else not_ok "check: both problems in one pass ($n errors)"; fi
run_fails "missing interfaces" "$TMP/links.ini" 'public_interface eth9'

# ------------------------------------------------------- backend = the front's own address
conf | sed -e 's/^backend = .*/backend = 10.22.22.2/' >"$TMP/self.ini"
check_says "backend = the front's own tunnel address" "$TMP/self.ini" \
    'error: \[front\] backend = 10\.22\.22\.2 is an address of this host \(on f-wg0\).*fix:'
if grep -q 'ADDRESS dev TUNNEL' "$TMP/c.err" "$TMP/c.out"; then not_ok "check: no placeholder fix"; else ok "check: no placeholder fix"; fi
run_fails "backend = the front's own tunnel address" "$TMP/self.ini" 'is an address of this host'

# ------------------------------------------------------- control socket is a file
: >"$TMP/notasock"
topo_front_conf "$TMP/notasock" >"$TMP/sock.ini"
check_says "a control_socket path that is a file" "$TMP/sock.ini" "error: control_socket $TMP/notasock exists and is not a socket.*fix:"
run_fails "a control_socket path that is a file" "$TMP/sock.ini" 'exists and is not a socket'

# ------------------------------------------------------- metrics port in use
{ conf; echo "metrics = 9733"; } >"$TMP/metrics.ini"
topo_bg "$NS_F" python3 -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9733)); s.listen(); time.sleep(120)'
topo_wait 50 inF python3 -c 'import socket; socket.create_connection(("127.0.0.1", 9733), 1)'
check_says "a metrics port in use" "$TMP/metrics.ini" 'error: \[front\] metrics 127\.0\.0\.1:9733: Address already in use \(fix:'
run_fails "a metrics port in use" "$TMP/metrics.ini" 'metrics 127\.0\.0\.1:9733'

# ------------------------------------------------------- the back half
printf '[back]\ntunnel_interface = wg7\nfront = 10.22.22.2\ncontrol_socket = %s\n' "$TMP/b.sock" >"$TMP/back.ini"
NS=$NS_B check_says "a [back] with a missing tunnel" "$TMP/back.ini" 'error: .*wg7.*fix:'
NS=$NS_B run_fails "a [back] with a missing tunnel" "$TMP/back.ini" 'wg7'
{ printf '[back]\ntunnel_interface = b-wg0\nfront = 10.22.22.2\n'; echo "control_group = trl-nosuchgroup"; } >"$TMP/bgroup.ini"
NS=$NS_B check_says "a [back] with an unknown control_group" "$TMP/bgroup.ini" 'error: control_group = trl-nosuchgroup'
NS=$NS_B run_fails "a [back] with an unknown control_group" "$TMP/bgroup.ini" 'no such group'

# ------------------------------------------------------- other commands
out=$(inF "$BIN" cleanup -c "$TMP/nonexistent.ini" 2>&1); rc=$?
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -q 'nonexistent.ini: cannot open'; then
	ok "cleanup of a missing file exits non-zero ($rc)"
else not_ok "cleanup of a missing file exits non-zero (rc=$rc: $out)"; fi
printf '[back]\ntunnel_interface = b-wg0\nfront = 10.22.22.2\ncontrol_socket = %s\n' "$TMP/b.sock" >"$TMP/bok.ini"
out=$(inB "$BIN" flows -c "$TMP/bok.ini" 2>&1); rc=$?
if [ "$rc" != 0 ] && printf '%s' "$out" | grep -q 'tracks no flows'; then ok "flows of a [back] exits non-zero"
else not_ok "flows of a [back] exits non-zero (rc=$rc: $out)"; fi
mkfifo "$TMP/fifo"
out=$(timeout 10 "$BIN" check -c "$TMP/fifo" 2>&1); rc=$?
if [ "$rc" = 1 ] && printf '%s' "$out" | grep -q 'is a FIFO (allowed: a regular file)'; then ok "check of a FIFO does not hang, says why"
else not_ok "check of a FIFO does not hang, says why (rc=$rc: $out)"; fi
out=$(timeout 10 "$BIN" check -c - <"$TMP/good.ini" 2>&1); rc=$?
if [ "$rc" = 1 ] && printf '%s' "$out" | grep -q 'standard input is not read'; then ok "check -c - is refused clearly"
else not_ok "check -c - is refused clearly (rc=$rc: $out)"; fi

e2e_summary
