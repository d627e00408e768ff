#!/bin/sh
# replay.sh - run the fuzz seed corpus and the saved crash inputs through the
# fuzz harnesses, compiled as plain C (tests/fuzz/replay): part of make check.
# Works in VPATH builds: inputs come from the source tree, the program from
# the build tree (top_srcdir/top_builddir are set by AM_TESTS_ENVIRONMENT).

top_srcdir=${top_srcdir:-${srcdir:-.}}
top_builddir=${top_builddir:-.}
replay=$top_builddir/tests/fuzz/replay
fuzz=$top_srcdir/tests/fuzz

if test ! -x "$replay"; then
	echo "replay.sh: $replay not built (make check builds it)" >&2
	exit 99
fi
status=0
for h in packet sequence conf nl; do
	"$replay" "$h" "$fuzz/corpus/$h" "$fuzz/regress/$h" || status=1
done
exit $status
