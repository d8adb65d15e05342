#!/bin/sh
# e2e.sh - end-to-end requests/s and memory of the example, beside nginx.
#
#   sh test/bench/e2e.sh BUILD_DIR   (run by `make bench`)
#
# One server of ours (spiffe-jwt-using-proxy-server: TLS, JWT-SVID
# validated on every request, verified-token cache on), and two proxies
# in front of it in the same run: ours, and nginx (Debian nginx-light)
# with the same SVID as its certificate and the bundle as its upstream
# CA, verifying the upstream's certificate and keeping 64 upstream
# connections alive.  wrk sends GET / with a real JWT-SVID over 64
# (BENCH_CONNS) keep-alive connections, BENCH_SECONDS (10) per proxy in
# two halves, ours and nginx taking turns so that load from elsewhere on
# the machine falls on both; the better half of each counts.  Prints
# requests/s, the peak RSS (VmHWM) of each process and the ratios.
#
# SVIDs and bundles come from the fake Workload API of the tests (one
# instance per identity, one CA), which can put "localhost" in the
# SVIDs as a DNS name: nginx checks its upstream's name, which
# spiffe-agent's SVIDs (URI SAN only, as SPIFFE wants) would fail.
# Everything binds to loopback.
set -u
b=${1:-build}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-64}
THREADS=$((CONNS < 2 ? CONNS : 2))
SERVER=$b/spiffe-jwt-using-proxy-server
PROXY=$b/spiffe-jwt-using-proxy-proxy
PY=/usr/bin/python3
T=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for t in wrk protoc "$NGINX"; do
	command -v "$t" >/dev/null 2>&1 ||
		{ echo "SKIP e2e bench: $t is not installed"; exit 0; }
done
if ! $PY -c 'import grpc, jwt' 2>/dev/null; then
	echo "SKIP e2e bench: needs python3-grpcio and python3-jwt"
	exit 0
fi
protoc -I proto -I /usr/include --python_out="$T" proto/workload.proto ||
	exit 1

# wait_for FILE SEDPATTERN: prints group 1 of the first match, 10 s max.
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		v=$(sed -n "s/$2/\1/p" "$1" 2>/dev/null | head -n 1)
		[ -n "$v" ] && { echo "$v"; return 0; }
		sleep 0.05
		i=$((i + 1))
	done
	echo "e2e bench: no \"$2\" in $1: $(tail -n 3 "$1")" >&2
	return 1
}

for n in server client; do
	WLAPI_PB_DIR=$T $PY test/wlapi/fake_workload_api.py \
		--socket "$T/$n.sock" --state "$T/$n" --shared "$T/ca" \
		--spiffe-id "spiffe://example.org/$n" --dns localhost \
		> "$T/api-$n.log" 2>&1 &
	PIDS="$PIDS $!"
	wait_for "$T/$n/ready" '^\([0-9]*\)$' > /dev/null || exit 1
done
export SPIFFE_ENDPOINT_SOCKET=unix://$T/server.sock
"$SERVER" -listen 127.0.0.1:0 > "$T/server.log" 2>&1 &
SRV=$!
PIDS="$PIDS $SRV"
SP=$(wait_for "$T/server.log" '.* Serving HTTPS on port \([0-9]*\).*') ||
	exit 1
"$PROXY" -listen 127.0.0.1:0 -upstream "https://localhost:$SP" \
	> "$T/proxy.log" 2>&1 &
PRX=$!
PIDS="$PIDS $PRX"
PP=$(wait_for "$T/proxy.log" '.* Serving HTTPS on port \([0-9]*\).*') ||
	exit 1
TOK=$("$b/spiffe" api fetch jwt -socketPath "$T/client.sock" \
	-audience spiffe://example.org/server -output json |
	$PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["token"])') || exit 1

# nginx: a free loopback port, files under $T.
NP=$($PY -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$T/nginx"
cat > "$T/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T/nginx/body;
	proxy_temp_path $T/nginx/proxy;
	upstream ours {
		server 127.0.0.1:$SP;
		keepalive $CONNS;
	}
	server {
		listen 127.0.0.1:$NP ssl;
		ssl_certificate $T/server/svid.pem;
		ssl_certificate_key $T/server/key.pem;
		location / {
			proxy_pass https://ours;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$http_host;
			proxy_set_header X-Forwarded-For
				\$proxy_add_x_forwarded_for;
			proxy_ssl_trusted_certificate $T/server/bundle.pem;
			proxy_ssl_verify on;
			proxy_ssl_name localhost;
			proxy_ssl_session_reuse on;
		}
	}
}
EOF
"$NGINX" -p "$T/nginx" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" &
NGX=$!
PIDS="$PIDS $NGX"
wait_for "$T/nginx/nginx.pid" '^\([0-9]*\)$' > /dev/null || exit 1

# run NAME PORT: wrk through one proxy for half the time; sets RPS, the
# best so far for NAME (fails on any error).
run() {
	wrk -t$THREADS -c$CONNS -d"$((SECS / 2))s" --timeout 10s \
		-H "Authorization: Bearer $TOK" "https://127.0.0.1:${2%%:*}/" \
		> "$T/wrk-$1.txt" 2>&1
	if grep -qE 'Socket errors|Non-2xx' "$T/wrk-$1.txt"; then
		echo "e2e bench: errors through $1:" >&2
		cat "$T/wrk-$1.txt" >&2
		exit 1
	fi
	RPS=$(awk -v best="${2#*:}" '/^Requests\/sec/ {
		printf "%.0f", ($2 > best ? $2 : best) }' "$T/wrk-$1.txt")
}

hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
# nginx's peak: master and workers added up.
ngx_hwm() {
	t=$(hwm "$NGX")
	for p in $(cat "/proc/$NGX/task/$NGX/children" 2>/dev/null); do
		t=$((t + $(hwm "$p")))
	done
	echo "$t"
}

# One request each first, so both proxies have their upstream warm.
for p in "$PP" "$NP"; do
	curl -sk -o /dev/null -H "Authorization: Bearer $TOK" \
		"https://127.0.0.1:$p/"
done
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
OURS=0
NGINX_RPS=0
for round in 1 2; do
	run ours "$PP:$OURS"
	OURS=$RPS
	run nginx "$NP:$NGINX_RPS"
	NGINX_RPS=$RPS
done
# The server's peak is taken with both proxies in front of it by now.
PRX_HWM=$(hwm "$PRX")
NGX_HWM=$(ngx_hwm)
SRV_HWM=$(hwm "$SRV")
grep -q '^Invalid token\|Malformed' "$T/server.log" &&
	{ echo "e2e bench: the server refused tokens" >&2; exit 1; }

kib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
printf 'client -> proxy -> server: wrk -t%d -c%d, 2 x %ds per proxy (best),' \
	"$THREADS" "$CONNS" "$((SECS / 2))"
printf ' keep-alive, GET / with a JWT-SVID\n'
printf '%-36s %12s   %s\n' "proxy" "requests/s" "peak RSS (VmHWM)"
printf '%-36s %12s   proxy %s\n' "spiffe-jwt-using-proxy-proxy" \
	"$OURS" "$(kib "$PRX_HWM")"
printf '%-36s %12s   nginx %s (master and workers)\n' \
	"nginx $("$NGINX" -v 2>&1 | sed 's,.*/,,') ($(nproc) workers)" \
	"$NGINX_RPS" "$(kib "$NGX_HWM")"
printf '%-36s %12s   server %s\n' "spiffe-jwt-using-proxy-server" "" \
	"$(kib "$SRV_HWM")"
awk -v a="$OURS" -v b="$NGINX_RPS" -v m="$PRX_HWM" -v n="$NGX_HWM" \
	'BEGIN { printf "%-36s %11.2fx   proxy memory %.2fx nginx'"'"'s\n", \
		"ours / nginx", a / b, m / n }'
echo "(load average before: $LOAD0; figures move with other load on the" \
	"machine, the ratio less)"
