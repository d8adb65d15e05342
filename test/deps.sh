#!/bin/sh
# deps.sh - installs the Debian packages the tests use, when missing.
# Runs apt-get as root only; otherwise names what to install.
pkgs="python3-grpcio python3-cryptography python3-jwt python3-protobuf
openssl curl nghttp2-client wrk nginx-light procps util-linux
protobuf-compiler valgrind"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: the tests need:$missing (apt-get install them as root)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine needs the package lists once before its first install.
apt-get install -y -qq $missing >/dev/null 2>&1 ||
	{ apt-get update -qq && apt-get install -y -qq $missing >/dev/null; } ||
	{ echo "deps: apt-get install$missing failed" >&2; exit 1; }
# nginx is for benchmarks only; the package starts a service on :80.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx 2>/dev/null; fi
pkill -x nginx 2>/dev/null
exit 0
