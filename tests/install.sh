#!/bin/sh
# `make install DESTDIR=...` puts the binary, both man pages, the systemd unit
# (with the configured paths filled in), the example configurations and the
# operator's Markdown pages (every docs/*.md but HACKING.md, and README.md) in
# place, the installed binary runs, and `make uninstall` removes them all.
# Run by `make check` (the TR_* variables come from dist/Makemodule.am).
set -u

fail=0
pass=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $*"; fail=$((fail + 1)); }

: "${top_builddir:?run me from make check}" "${top_srcdir:?}" "${TR_BINDIR:?}" "${TR_MANDIR:?}"
: "${TR_EXAMPLESDIR:?}" "${TR_SYSCONFDIR:?}" "${TR_DOCDIR:?}"
MAKE=${MAKE:-make}
unitdir=${TR_UNITDIR:-}

D=$(mktemp -d /tmp/tunrelay-install.XXXXXX) || exit 1
trap 'rm -rf "$D"' EXIT

if ! $MAKE -s -C "$top_builddir" install DESTDIR="$D" >"$D.log" 2>&1; then
	cat "$D.log"; rm -f "$D.log"
	echo "not ok - make install DESTDIR=$D failed"
	exit 1
fi
rm -f "$D.log"
ok "make install DESTDIR=..."

want() {
	if [ -f "$D$1" ]; then ok "installed: $1"; else not_ok "missing: $1"; fi
}
want "$TR_BINDIR/tunrelay"
want "$TR_MANDIR/man8/tunrelay.8"
want "$TR_MANDIR/man5/tunrelay.ini.5"
want "$TR_COMPLETIONDIR/tunrelay"
for f in keep-client-ip-front.ini keep-client-ip-back.ini many-fronts-back.ini port-forward.ini hairpin.ini; do
	want "$TR_EXAMPLESDIR/$f"
	if cmp -s "$top_srcdir/examples/$f" "$D$TR_EXAMPLESDIR/$f"; then
		ok "example $f is the one in examples/"
	else
		not_ok "example $f differs from examples/$f"
	fi
done

# the man pages point at the Markdown pages: each one is installed as is
for f in "$top_srcdir"/README.md "$top_srcdir"/docs/*.md; do
	b=${f##*/}
	[ "$b" = HACKING.md ] && continue
	if cmp -s "$f" "$D$TR_DOCDIR/$b"; then ok "doc $b installed"
	else not_ok "doc $b not installed as is in $TR_DOCDIR (list it in docs/Makemodule.am)"; fi
done

if [ -x "$D$TR_BINDIR/tunrelay" ] &&
    "$D$TR_BINDIR/tunrelay" --version | grep -q '^tunrelay [0-9]'; then
	ok "the installed binary runs (--version)"
else
	not_ok "the installed binary does not run"
fi

if [ -n "$unitdir" ]; then
	u=$D$unitdir/tunrelay@.service
	want "$unitdir/tunrelay@.service"
	if [ -f "$u" ]; then
		if grep -q '@[a-z]*@' "$u"; then
			not_ok "unit still has @placeholders@: $(grep '@[a-z]*@' "$u")"
		else
			ok "unit has no @placeholders@ left"
		fi
		for line in \
		    "ExecStart=$TR_BINDIR/tunrelay run -c $TR_SYSCONFDIR/tunrelay/%i.ini" \
		    "ExecStopPost=$TR_BINDIR/tunrelay cleanup -c $TR_SYSCONFDIR/tunrelay/%i.ini" \
		    "Type=notify" "WatchdogSec=30s" "Restart=on-failure" \
		    "CapabilityBoundingSet=CAP_NET_ADMIN" \
		    "AmbientCapabilities=CAP_NET_ADMIN" "NoNewPrivileges=yes" \
		    "RuntimeDirectory=tunrelay" "DeviceAllow=/dev/net/tun rw"; do
			if grep -qxF "$line" "$u"; then
				ok "unit: $line"
			else
				not_ok "unit lacks the line: $line"
			fi
		done
		# systemd's own parser, where it is installed (no running systemd
		# needed); the unit points at the DESTDIR binary for the check
		if command -v systemd-analyze >/dev/null 2>&1; then
			mkdir -p "$D/verify"
			sed "s|$TR_BINDIR/tunrelay|$D$TR_BINDIR/tunrelay|g" "$u" \
			    >"$D/verify/tunrelay@example.service"
			out=$(systemd-analyze verify --man=no \
			    "$D/verify/tunrelay@example.service" 2>&1)
			if [ -z "$out" ]; then
				ok "systemd-analyze verify: no complaint"
			else
				not_ok "systemd-analyze verify: $out"
			fi
		else
			echo "# systemd-analyze not installed: unit syntax not verified"
		fi
	fi
fi

if $MAKE -s -C "$top_builddir" uninstall DESTDIR="$D" >/dev/null 2>&1; then
	left=$(find "$D" -type f ! -path "$D/verify/*" | sed "s|^$D||")
	if [ -z "$left" ]; then
		ok "make uninstall removes every file"
	else
		not_ok "make uninstall left: $left"
	fi
else
	not_ok "make uninstall failed"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
