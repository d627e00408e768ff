#!/bin/bash
# End-to-end: full NAT and hairpin flows survive a SIGKILL and an immediate
# restart of the front (as a supervisor does), through the state file
# (state_file, core/statefile.c, nat/state.c). Their relay port was the
# engine's choice, so unlike keep-mode flows the rules cannot rebuild them.
#
# Port forward (tests/e2e/topo_fwd.sh): client C, relay A and server B on one
# switch, A:81 -> B:7001 (downloads) and A:82 -> B:7002 (uploads) with
# source = relay; B's default route is not A, only full NAT brings its
# replies back.
# Hairpin: LAN client L reaches LAN server S1 through the gateway G's public
# address (G:81, G:82), hairpinned: S1 sees G's LAN address and a relay port.
#
# For each: a paced 32 MB download and upload (tests/e2e/bulk.py, the
# content checked byte for byte at the receiving end), the relay SIGKILLed
# 2 s in and started again at once; the transfer must complete, the flow
# keep its relay port, the log say how many flows were adopted. A control
# run with state_file = off shows that the same kill breaks a download.
# Then a corrupt, a truncated and a foreign-version state file, and one
# with a damaged record: the relay starts, logs why it ignored the file (or
# dropped the record) and relays new flows. A clean stop removes the file;
# `tunrelay cleanup` keeps it when the service manager will restart the
# relay, and removes it otherwise.
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/e2e/init.sh
. "$here/init.sh"
e2e_init state ip python3 ethtool
# shellcheck source=tests/e2e/topo_fwd.sh
. "$here/topo_fwd.sh"

MB=32
SIZE=$((MB * 1024 * 1024))
RATE=6		# MB/s: a transfer takes about 5.5 s
LIMIT=45	# seconds a transfer may take, restart included
# full NAT hides the client's port from the server: one pattern for all
BULK_SEED=7
export BULK_SEED

e2e_watchdog 480

# start NS CONF: run the relay (its log in $TMP/relay.log), wait for it
start() {
	RNS=$1 RCONF=$2
	ip netns exec "$RNS" "$BIN" run -c "$RCONF" >>"$TMP/relay.log" 2>&1 &
	DPID=$!
	topo_wait 150 ip netns exec "$RNS" "$BIN" stats -c "$RCONF"
}
# SIGKILL the relay (nothing cleaned up: the state file stays)
killit() {
	kill -9 "$DPID" 2>/dev/null
	wait "$DPID" 2>/dev/null
	DPID=
}
# the last state file line of the log
state_line() { grep 'state file' "$TMP/relay.log" | tail -1; }
# flows of the running relay whose original key has dport PORT: their reply
# part (the relay endpoint)
reply_of() {
	ip netns exec "$RNS" "$BIN" flows -c "$RCONF" 2>/dev/null |
	    grep " dport=$1 src=" | sed 's/.* dport=[0-9]* \(src=.*dport=[0-9]*\) .*/\1/' | head -1
}

# the relay config: forwards 81 and 82 to TARGET, state file STATE
relay_conf() {
	local ifc=$1 tgt=$2 src=$3 state=$4 hair=$5 ports=${6:-61000-65534}
	cat <<EOF
[front]
public_interface = $ifc
control_socket = $TMP/relay.sock
state_file = $state
nat_ports = $ports

[forward.dl]
proto = tcp
listen = 81
to = $tgt:7001
source = $src

[forward.ul]
proto = tcp
listen = 82
to = $tgt:7002
source = $src
EOF
	[ -z "$hair" ] || printf '\n[hairpin]\ninterfaces = %s\n' "$hair"
}

# kill_mid WHAT CLIENT_NS HOST WAY [control|restart]: SIGKILL the relay 2 s
# into a paced download (get) or upload (put) by the client and restart it at
# once (restart: `tunrelay restart` instead, the binary executed again in the
# same process); the transfer must complete byte-identical on the same relay
# endpoint. control: without a state file, the transfer must break.
kill_mid() {
	local what=$1 cns=$2 host=$3 way=$4 control=${5:-} port=81 rate='' t t0 before after line
	local how=SIGKILL
	local out=$TMP/$way.out dir=download limit=$LIMIT
	[ "$way" = put ] && { port=82; rate=$RATE; dir=upload; }
	# the control needs no restart margin: 20 s are three times the transfer
	if [ "$control" = restart ]; then control=; how="tunrelay restart"; fi
	[ -n "$control" ] && limit=20
	rm -f "$TMP/ready"
	# shellcheck disable=SC2086 # $rate: the upload's pace, or nothing
	ip netns exec "$cns" python3 "$BULK" "$way" "$host" "$port" "$SIZE" "$limit" "$TMP/ready" $rate >"$out" 2>&1 &
	t=$! t0=$SECONDS
	topo_wait 50 test -e "$TMP/ready"
	sleep 2
	before=$(reply_of "$port")
	if [ "$how" = SIGKILL ]; then
		killit
		start "$RNS" "$RCONF" || not_ok "$what: restart after SIGKILL"
	else
		expect "$what mid-$dir: tunrelay restart" '^restarted .* connections kept' \
		    ip netns exec "$RNS" timeout 40 "$BIN" restart -c "$RCONF"
		check "$what mid-$dir: tunrelay restart: the same process" kill -0 "$DPID"
	fi
	line=$(state_line)
	after=$(reply_of "$port")
	if [ -n "$control" ]; then
		if wait "$t"; then not_ok "$what: control: the $dir survived without a state file ($(cat "$out"))"
		else ok "$what: control: without a state file the $dir breaks ($(cat "$out"))"; fi
		return
	fi
	if printf '%s\n' "$line" | grep -Eq 'adopted [1-9][0-9]* flows?, dropped 0$'; then ok "$what mid-$dir: restarted relay adopted its flows ($line)"
	else not_ok "$what mid-$dir: log after restart: $line"; fi
	if [ -n "$before" ] && [ "$before" = "$after" ]; then ok "$what mid-$dir: same relay endpoint after the restart ($after)"
	else not_ok "$what mid-$dir: relay endpoint before '$before', after '$after'"; fi
	if wait "$t"; then ok "$what: $how mid-$dir, restart: $MB MB byte-identical ($(cat "$out"), $((SECONDS - t0)) s)"
	else not_ok "$what: $how mid-$dir: $(cat "$out")"; fi
}

# poke FILE OFFSET HEX: overwrite bytes of a file in place
poke() {
	python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); f.write(bytes.fromhex(sys.argv[3]))' "$@"
}
# the offset of the first live record of a state file (4096: the daemon's
# page; then each shard's region: 64 bytes of header, 104 per record; "LIVE"
# little-endian), in whichever shard's region it is
first_record() {
	python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
# one region per engine shard, back to back, each a 64-byte header
# ("TRLYSTAT") and 104-byte records: the flows may all be in a later one
starts = []
o = d.find(b"TRLYSTAT", 4096)
while o != -1:
    starts.append(o)
    o = d.find(b"TRLYSTAT", o + 8)
for i, s in enumerate(starts):
    end = starts[i + 1] if i + 1 < len(starts) else len(d)
    for r in range(s + 64, end - 103, 104):
        if d[r:r + 4] == b"LIVE":
            print(r)
            sys.exit(0)' "$1"
}

# bad_file WHAT WANT: the relay starts on a damaged state file, logs WANT,
# and relays a new flow
bad_file() {
	local what=$1 want=$2 line
	start "$RNS" "$RCONF" || { not_ok "$what: relay did not start"; return; }
	line=$(state_line)
	if printf '%s\n' "$line" | grep -Eq -- "$want"; then ok "$what: relay started and says: $line"
	else not_ok "$what: log says '$line', want /$want/"; fi
	if ip netns exec "$NS_C" python3 "$BULK" put 192.0.2.1 82 1048576 20 >"$TMP/new.out" 2>&1; then
		ok "$what: a new full NAT flow is relayed ($(cat "$TMP/new.out"))"
	else not_ok "$what: new flow: $(cat "$TMP/new.out")"; fi
}

# --- port forward: full NAT ----------------------------------------------------
fwd_port_up || { not_ok "port forward: topology"; exit 1; }
topo_bg "$NS_B" python3 "$BULK" serve 192.0.2.32 7001 7002 "$SIZE" "$RATE"
topo_wait 50 sh -c "ip netns exec $NS_B ss -ltn | grep -q ':7002 '"
ST=$TMP/run/relay.state
relay_conf a-eth0 192.0.2.32 relay "$ST" "" 61000-65000 >"$TMP/a.ini"
start "$NS_A" "$TMP/a.ini" || { not_ok "port forward: relay did not start"; cat "$TMP/relay.log"; exit 1; }
check "port forward: the state file exists, no FILE.new left" sh -c "[ -f '$ST' ] && [ ! -e '$ST.new' ]"
expect "port forward: the first start found no state file" 'none, no flows to take over' state_line
kill_mid "port forward (source = relay)" "$NS_C" 192.0.2.1 get
# a reload keeps the file; one that widens nat_ports rewrites its header
# (the records depend on the range), else the next start would refuse it
relay_conf a-eth0 192.0.2.32 relay "$ST" "" >"$TMP/a.ini"
n=$(grep -c 'reloaded' "$TMP/relay.log")
kill -HUP "$DPID"
if topo_wait 100 sh -c "[ \$(grep -c 'reloaded' '$TMP/relay.log') -gt $n ]"; then ok "port forward: SIGHUP with nat_ports widened: reloaded"
else not_ok "port forward: SIGHUP: no reload in the log"; fi
kill_mid "port forward (source = relay)" "$NS_C" 192.0.2.1 put
kill_mid "port forward (source = relay)" "$NS_C" 192.0.2.1 get restart

# a damaged record is dropped and counted, the file still used
killit
off=$(first_record "$ST")
if [ -n "$off" ]; then
	poke "$ST" $((off + 40)) ff
	bad_file "damaged record" 'adopted [0-9]+ flows?, dropped 1 \(corrupt 1\)'
else
	not_ok "damaged record: no live record in the state file"
fi
killit
poke "$ST" $((4096 + 20)) 5a5a5a5a
bad_file "corrupt state file" 'ignored: damaged header'
killit
truncate -s 6000 "$ST"
bad_file "truncated state file" 'ignored: truncated: 1904 bytes'
killit
poke "$ST" $((4096 + 8)) 63000000
bad_file "foreign-version state file" 'ignored: format version 99, this tunrelay reads version 1'
killit
poke "$ST" 0 00
bad_file "state file of another program" 'ignored: not a tunrelay state file'

# a clean stop removes the file
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
if [ "$rc" = 0 ] && [ ! -e "$ST" ]; then ok "SIGTERM: exit 0, state file removed"
else not_ok "SIGTERM: exit $rc, state file $(ls -l "$ST" 2>&1)"; fi
# cleanup after a crash: kept for a restart by the service manager, else removed
start "$NS_A" "$TMP/a.ini" || not_ok "relay start before the cleanup checks"
killit
ip netns exec "$NS_A" env SERVICE_RESULT=signal "$BIN" cleanup -c "$TMP/a.ini" >/dev/null 2>&1
check "cleanup with SERVICE_RESULT=signal keeps the state file (a restart follows)" test -f "$ST"
ip netns exec "$NS_A" "$BIN" cleanup -c "$TMP/a.ini" >/dev/null 2>&1
check "cleanup by hand removes the stale state file" test ! -e "$ST"

# control: the same kill without a state file breaks the download
relay_conf a-eth0 192.0.2.32 relay off "" >"$TMP/a-off.ini"
start "$NS_A" "$TMP/a-off.ini" || not_ok "control: relay did not start"
kill_mid "port forward" "$NS_C" 192.0.2.1 get control
killit

# --- hairpin: hairpin -----------------------------------------------------
fwd_hairpin_up || { not_ok "hairpin: topology"; exit 1; }
topo_bg "$NS_S1" python3 "$BULK" serve 192.168.50.32 7001 7002 "$SIZE" "$RATE"
topo_wait 50 sh -c "ip netns exec $NS_S1 ss -ltn | grep -q ':7002 '"
relay_conf g-pub 192.168.50.32 keep "$TMP/run/gw.state" g-lan >"$TMP/g.ini"
start "$NS_G" "$TMP/g.ini" || { not_ok "hairpin: gateway did not start"; exit 1; }
kill_mid "hairpin (hairpin)" "$NS_L" 203.0.113.1 get
kill_mid "hairpin (hairpin)" "$NS_L" 203.0.113.1 put
kill_mid "hairpin (hairpin)" "$NS_L" 203.0.113.1 put restart
kill -TERM "$DPID"; wait "$DPID"; DPID=

refute() { if "${@:3}" 2>/dev/null | grep -Eq -- "$2"; then not_ok "$1"; else ok "$1"; fi; }
refute "no sanitizer reports from the relay" 'Sanitizer|runtime error' cat "$TMP/relay.log"
if [ "$fail" -gt 0 ]; then
	echo "--- relay log"; grep -v "added\|removed\|restored\|put back\|rule:" "$TMP/relay.log" | tail -n 40
fi
e2e_summary
