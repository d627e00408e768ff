# shellcheck shell=bash
# init.sh - the start every end-to-end script shares: tap.sh (ok/not ok, the
# skip rule, the watchdog) and topo.sh (namespaces, $TMP and the EXIT trap).
# Source it with $here set to tests/e2e, then call e2e_init.
# It reads the script's $here and sets variables for the script:
# shellcheck disable=SC2154,SC2034

# shellcheck source=tests/e2e/tap.sh
. "$here/tap.sh"
# shellcheck source=tests/e2e/topo.sh
. "$here/topo.sh"

# e2e_init NAME TOOL...: skip (77) unless root, /dev/net/tun and every TOOL
# are here; BIN (the relay), PEER, CRAFT and BULK (the Python helpers); fail
# unless the relay is built; then $TMP (/tmp/tunrelay-NAME.*) and the EXIT
# trap of topo_test, which cleans up also on failure.
e2e_init() {
	local name=$1; shift
	e2e_require "$@"
	BIN=$(cd "${top_builddir:-$here/../..}" && pwd)/tunrelay
	PEER=$here/peer.py
	CRAFT=$here/craft.py
	BULK=$here/bulk.py
	e2e_built "$BIN"
	topo_test "$name"
}

# e2e_built FILE...: "not ok" and exit 1 unless every FILE is built
e2e_built() {
	local f
	for f in "$@"; do
		[ -x "$f" ] || { echo "not ok - $f not built"; exit 1; }
	done
}
