#!/bin/sh
# The fetch step refuses a tarball whose SHA-256 is wrong, says so, and
# leaves no partial tree behind.
. test/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/third_party/dl"
cp third_party/fetch.sh "$tmp/third_party/"
head -c 4096 /dev/urandom > "$tmp/third_party/dl/nanopb_0.4.9.1.orig.tar.gz"

out=$(sh "$tmp/third_party/fetch.sh" nanopb 2>&1)
expect_eq "wrong tarball exits 1" "$?" 1
expect_contains "names the mismatch" "$out" "nanopb_0.4.9.1.orig.tar.gz: SHA-256 mismatch"
expect_contains "shows expected hash" "$out" "expected 4575944a468718ef25f05eb01d994364650b581563089a9841986bb1e460eac3"
expect_eq "no tree left" "$(ls "$tmp/third_party" | grep -c nanopb-)" 0
expect_eq "no unpack dir left" "$(ls -a "$tmp/third_party" | grep -c unpack)" 0
expect_eq "bad tarball removed" "$(ls "$tmp/third_party/dl" | wc -l)" 0

out=$(sh "$tmp/third_party/fetch.sh" bogus 2>&1)
expect_eq "unknown package is a usage error" "$?" 2

# A good tarball (the one the build used) unpacks into a complete tree.
if [ -f third_party/dl/nanopb_0.4.9.1.orig.tar.gz ]; then
	cp third_party/dl/nanopb_0.4.9.1.orig.tar.gz "$tmp/third_party/dl/"
	sh "$tmp/third_party/fetch.sh" nanopb 2>/dev/null
	expect_eq "good tarball unpacks" "$?" 0
	expect_eq "tree complete" "$(test -f "$tmp/third_party/nanopb-0.4.9.1/.unpacked" &&
		test -f "$tmp/third_party/nanopb-0.4.9.1/pb_decode.c" && echo yes)" yes
fi
finish
