#!/bin/sh
# bench.sh - runs every benchmark in BUILD_DIR/bench/ (each prints its own
# side-by-side table with a peer and the ratio).
set -u
b=${1:?usage: bench.sh BUILD_DIR}
for x in "$b"/bench/bench_*; do
	[ -x "$x" ] || continue
	echo "== $(basename "$x")"
	"$x" || exit 1
done
for s in test/bench/*.sh; do
	[ -f "$s" ] || continue
	echo "== $(basename "$s" .sh)"
	sh "$s" "$b" || exit 1
done
