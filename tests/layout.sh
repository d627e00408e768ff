#!/bin/sh
# Keep docs/HACKING.md's map of the tree true: every source file of nat/,
# conf/, tun/ and core/ is named in its "Files by job" table, every file
# the table names exists, and no source file outside tests/ is over
# LAYOUT_MAX lines (split it by job first).
# Exit: 0 true, 1 a finding (each printed), 99 hard error.

set -u

src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
doc=$src/docs/HACKING.md
max=${LAYOUT_MAX:-800}
bad=0

[ -r "$doc" ] || { echo "layout: cannot read $doc"; exit 99; }

# The table: from "### Files by job" to the next heading.
table=$(sed -n '/^### Files by job/,/^### [^F]/p' "$doc")
[ -n "$table" ] || { echo "layout: no \"Files by job\" table in $doc"; exit 99; }

for dir in nat conf tun core; do
	for f in "$src/$dir"/*.c; do
		name=$(basename "$f")
		case $table in
		*"\`$name\`"*) ;;
		*) echo "layout: $dir/$name is not in HACKING.md's Files by job"
		   bad=1 ;;
		esac
	done
done

# Each row names its folder in the first cell, or leaves it empty for the
# folder of the row above.
dir=
for name in $(printf '%s\n' "$table" | awk -F'|' '
	/^\| *`[a-z]+\/` *\|/ { d = $2; gsub(/[ `\/]/, "", d) }
	/^\|/ && d != "" {
		n = split($3, w, "`")
		for (i = 2; i <= n; i += 2)
			if (w[i] ~ /\.c$/)
				print d "/" w[i]
	}'); do
	[ -f "$src/$name" ] || { echo "layout: HACKING.md names $name, which is not in the tree"; bad=1; }
done

for f in "$src"/nat/*.[ch] "$src"/conf/*.[ch] "$src"/tun/*.[ch] \
    "$src"/core/*.[ch] "$src"/bench/*.[ch]; do
	n=$(wc -l < "$f")
	if [ "$n" -gt "$max" ]; then
		echo "layout: ${f#"$src"/} has $n lines (more than $max): split it by job"
		bad=1
	fi
done

[ "$bad" -eq 0 ] && echo "layout: HACKING.md's map matches the tree; no file over $max lines"
exit "$bad"
