#!/bin/sh
# Prove that the NAT engine (nat/libnat.a) is pure: its objects call nothing
# but libc memory functions (no system calls, no clock, no I/O) and define no
# writable global or static data.
#
# Usage: tests/purity.sh [ARCHIVE-OR-OBJECT...]
#   default: $NAT_LIB, else $top_builddir/nat/libnat.a (make check exports
#   top_builddir, NM, OBJDUMP, CC and CFLAGS).
# With CC set, it first proves that it catches an impure object (calls time(),
# has a global), so a broken check cannot pass silently.
# Exit: 0 pure, 1 impure, 99 hard error (automake's convention).

set -u

NM=${NM:-nm}
OBJDUMP=${OBJDUMP:-objdump}

# Functions the engine may call, besides its own. Extend with care: each
# must be free of side effects outside the memory the caller hands in.
# libc memory functions:
ALLOW_CALLS='memcpy memmove memset memcmp memchr malloc calloc realloc free'
# libc string functions (HACKING.md: "libc memory/string functions only"),
# e.g. for error messages written into a caller-supplied buffer:
ALLOW_CALLS="$ALLOW_CALLS strlen strnlen strcmp strncmp strchr strrchr strstr
snprintf vsnprintf"
# _FORTIFY_SOURCE variants and stack protector:
ALLOW_CALLS="$ALLOW_CALLS __memcpy_chk __memmove_chk __memset_chk
__snprintf_chk __vsnprintf_chk __stack_chk_fail __stack_chk_fail_local
__stack_chk_guard _GLOBAL_OFFSET_TABLE_"

# Compiler, sanitizer, coverage and linker-generated names (extended regex).
ALLOW_CALLS_RE='^(__asan_|__ubsan_|__sanitizer_|__sancov_|__msan|__tsan|__hwasan_|__lsan_|__gcov_|__llvm_|__start_|__stop_|__(u?(div|mod)|mul|popcount|clz|ctz|ffs|parity)[a-z]*[23]$)'
ALLOW_DATA_RE='^(__odr_asan|___?asan_gen_|__asan_|__sancov_gen_|__unnamed_[0-9]+$|__gcov|__llvm_|\.L)'

# List "object: calls symbol" for each undefined symbol of the inputs that
# neither they define themselves nor the allow-lists name.
bad_calls()
{
	defs=$("$NM" -A -P --defined-only "$@" | awk '{ print $2 }')
	"$NM" -A -P -u "$@" | awk -v allow="$ALLOW_CALLS" -v re="$ALLOW_CALLS_RE" -v defs="$defs" '
		BEGIN {
			n = split(allow, a, /[ \t\n]+/); for (i = 1; i <= n; i++) ok[a[i]] = 1
			n = split(defs, a, /\n/); for (i = 1; i <= n; i++) ok[a[i]] = 1
		}
		{
			obj = $1; sub(/:$/, "", obj); name = $2
			if (name == "" || name ~ /:$/) next
			if ((name in ok) || name ~ re) next
			print obj ": calls " name
		}'
}

# List "object: writable data symbol (section)" for the inputs.
bad_data()
{
	"$OBJDUMP" -t "$@" | awk -v re="$ALLOW_DATA_RE" '
		/^In archive / { ar = substr($0, 12); sub(/:$/, "", ar); next }
		/:[ \t]+file format / {
			obj = $1; sub(/:$/, "", obj)
			if (ar != "") obj = ar "[" obj "]"
			next
		}
		index($0, "\t") == 0 { next }
		{
			tab = index($0, "\t")
			left = substr($0, 1, tab - 1); right = substr($0, tab + 1)
			split(left, f, " "); value = f[1]
			flags = substr(left, length(value) + 2, 7)
			sect = substr(left, length(value) + 10); gsub(/[ \t]/, "", sect)
			nr = split(right, r, " "); name = r[nr]
			if (flags ~ /[df]/) next	# section and file symbols
			if (sect !~ /^(\.data|\.bss|\.tdata|\.tbss|\.sdata|\.sbss|\.ldata|\.lbss|\*COM\*)/) next
			if (sect ~ /^\.data\.rel\.ro/) next	# read-only after relocation
			if (name ~ re) next
			print obj ": writable data " name " (" sect ")"
		}'
}

# Check the archives/objects "$@" as one unit; print every problem; return 1 if any.
check()
{
	if ! "$NM" -A -P "$@" >/dev/null || ! "$OBJDUMP" -t "$@" >/dev/null; then
		echo "purity: $NM or $OBJDUMP cannot read $*" >&2
		return 99
	fi
	problems=$( { bad_calls "$@"; bad_data "$@"; } )
	if [ -n "$problems" ]; then
		printf '%s\n' "$problems"
		return 1
	fi
	return 0
}

# Prove the checker rejects a known-bad object built with the same compiler.
self_test()
{
	tmp=$(mktemp -d) || return 99
	cat >"$tmp/impure.c" <<'EOF'
#include <time.h>
int purity_global;
long purity_bad(void) { static int calls; calls++; return (long)time(0) + purity_global + calls; }
EOF
	# shellcheck disable=SC2086
	if ! $CC ${CFLAGS:-} -c "$tmp/impure.c" -o "$tmp/impure.o"; then
		echo "purity: self-test: cannot compile with $CC" >&2
		rm -rf "$tmp"
		return 99
	fi
	out=$(check "$tmp/impure.o")
	rm -rf "$tmp"
	ndata=$(printf '%s\n' "$out" | grep -c ': writable data ')
	for want in "calls time" "writable data purity_global"; do
		case "$out" in
		*"$want"*) ;;
		*)	ndata=0 ;;
		esac
	done
	if [ "$ndata" -lt 2 ]; then
		echo "purity: self-test: the check missed a call to time() or a global/static in an impure object; it reported:" >&2
		printf '%s\n' "$out" >&2
		return 99
	fi
	echo "purity: self-test ok (an object calling time() with globals is rejected)"
	return 0
}

if [ -n "${CC:-}" ]; then
	self_test || exit 99
fi

if [ $# -eq 0 ]; then
	set -- "${NAT_LIB:-${top_builddir:-.}/nat/libnat.a}"
fi

for lib in "$@"; do
	if [ ! -f "$lib" ]; then
		echo "purity: $lib not found (build it first: make nat/libnat.a)" >&2
		exit 99
	fi
done
nobj=$("$NM" -A -P "$@" 2>/dev/null | awk '{ sub(/:$/, "", $1); print $1 }' | sort -u | wc -l)
if [ "$nobj" -eq 0 ]; then
	echo "purity: $* has no symbols: nothing to check" >&2
	exit 99
fi
check "$@"
case $? in
0)	echo "purity: $* is pure ($nobj objects checked)"
	exit 0 ;;
1)	# shellcheck disable=SC2086
	echo "purity: FAIL: $* is not pure: it may call only its own functions and: $(printf '%s ' $ALLOW_CALLS)and define no writable global or static data"
	exit 1 ;;
*)	exit 99 ;;
esac
