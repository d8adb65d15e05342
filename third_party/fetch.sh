#!/bin/sh
# fetch.sh - obtain and unpack a pinned third-party source tree.
#
#   third_party/fetch.sh mbedtls|nanopb
#
# The tarballs are Debian's "orig" source tarballs, pinned by version and
# SHA-256.  Order of sources: a tarball already in third_party/dl/ (users
# without apt drop it there), else apt's own source client run with a
# private configuration under build/apt (the archive URI is read from this
# machine's apt sources; /etc/apt is never touched).  Nothing is unpacked
# unless the checksum matches, and a failed unpack leaves no tree behind.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
dl="$here/dl"

case "${1:-}" in
mbedtls)
	pkg=mbedtls; ver=3.6.6-0.1~deb13u1
	file=mbedtls_3.6.6.orig.tar.bz2
	sum=8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
	tree=mbedtls-3.6.6 ;;
nanopb)
	pkg=nanopb; ver=0.4.9.1-1
	file=nanopb_0.4.9.1.orig.tar.gz
	sum=4575944a468718ef25f05eb01d994364650b581563089a9841986bb1e460eac3
	tree=nanopb-0.4.9.1 ;;
*)
	echo "usage: $0 mbedtls|nanopb" >&2; exit 2 ;;
esac
suite=trixie

die() { echo "fetch: $*" >&2; exit 1; }

check() {
	got=$(sha256sum "$1" | cut -d' ' -f1)
	[ "$got" = "$sum" ] && return 0
	echo "fetch: $1: SHA-256 mismatch" >&2
	echo "fetch:   expected $sum" >&2
	echo "fetch:   got      $got" >&2
	return 1
}

# Reads the archive URI of an existing Debian source so no host name is
# kept in this repository.
archive_uri() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++)
			if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
	done | head -n 1
	[ -r /etc/apt/sources.list ] && awk '$1 == "deb" {
		for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\/.*\/debian\/?$/)
			{ print $i; exit } }' /etc/apt/sources.list
	return 0
}

apt_download() {
	command -v apt-get >/dev/null 2>&1 ||
		die "no $dl/$file and no apt-get: download Debian's $pkg $ver source ($file) into $dl/"
	uri=$(archive_uri | head -n 1)
	[ -n "$uri" ] || die "no Debian archive found in /etc/apt sources; put $file into $dl/"
	a="$top/build/apt"
	mkdir -p "$a/etc/sources.list.d" "$a/etc/preferences.d" \
		"$a/lists/partial" "$a/cache/archives/partial" "$a/get"
	key=/usr/share/keyrings/debian-archive-keyring.gpg
	opt=""
	[ -r "$key" ] && opt="[signed-by=$key] "
	echo "deb-src $opt$uri $suite main" > "$a/etc/sources.list"
	set -- -o "Dir::Etc::sourcelist=$a/etc/sources.list" \
		-o "Dir::Etc::sourceparts=$a/etc/sources.list.d" \
		-o "Dir::Etc::preferencesparts=$a/etc/preferences.d" \
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" \
		-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
	log="$a/apt.log"
	if [ ! -f "$a/lists/.updated" ]; then
		apt-get "$@" -qq update > "$log" 2>&1 ||
			{ cat "$log" >&2; die "apt-get update (private sources) failed"; }
		touch "$a/lists/.updated"
	fi
	# A missing .dsc or debian.tar (404) is harmless: only the orig
	# tarball is used, and it is checked below.  apt's own words are
	# shown only when the tarball did not arrive.
	(cd "$a/get" && apt-get "$@" -qq source --download-only "$pkg=$ver") \
		> "$log" 2>&1 || true
	if [ ! -f "$a/get/$file" ]; then
		cat "$log" >&2
		die "apt could not download $file ($pkg $ver from $suite)"
	fi
	mkdir -p "$dl"
	mv "$a/get/$file" "$dl/$file.part"
	mv "$dl/$file.part" "$dl/$file"
}

[ -f "$here/$tree/.unpacked" ] && exit 0

if [ ! -f "$dl/$file" ]; then
	echo "fetch: downloading $pkg $ver source" >&2
	apt_download
fi
if ! check "$dl/$file"; then
	rm -f "$dl/$file"
	die "refusing $file; removed it, run make again to download a fresh copy"
fi

tmp="$here/.unpack.$$"
trap 'rm -rf "$tmp"' EXIT INT TERM
rm -rf "$tmp" "$here/$tree"
mkdir -p "$tmp"
case "$file" in
*.bz2) tar -xjf "$dl/$file" -C "$tmp" ;;
*.gz) tar -xzf "$dl/$file" -C "$tmp" ;;
esac
[ -d "$tmp/$tree" ] || die "$file does not contain $tree/"
touch "$tmp/$tree/.unpacked"
mv "$tmp/$tree" "$here/$tree"
echo "fetch: $tree ready (sha256 ok)" >&2
