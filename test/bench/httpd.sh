#!/bin/sh
# httpd.sh - our HTTPS server beside nginx, same machine, same run:
# requests/s, server CPU time per request (a steadier figure than
# requests/s when other work shares the machine) and peak RSS (VmHWM;
# nginx's master and workers added up)
# under wrk -t1 -c64 and -c256 (HTTP/1.1 keep-alive, BENCH_SECONDS=10 s
# each) and h2load -c64 -m1 (HTTP/2, H2_SECONDS=3 s), each on a fresh
# server, and RSS with 1,000 idle keep-alive connections.  Ours is
# test_httpd serve -s 1 (answers "Success!!!"), as built (glibc,
# dynamic) and, when musl-gcc is there, static with musl as the programs
# ship (built once by this script: build/static/test/test_httpd; its
# -c64 run lasts STATIC_SECONDS=5 s, for its memory).  nginx
# gets a generated configuration: loopback listener, the same
# certificate and key (ECDSA P-256), TLS 1.3 only, return 200
# "Success!!!", access_log off, keepalive_requests unbounded like ours,
# worker_processes 1 and auto.  About 100 s.
#
#   sh test/bench/httpd.sh BUILD_DIR
set -u
B=${1:-build}
H=$B/test/test_httpd
D=test/data/tls
DUR=${BENCH_SECONDS:-10}
H2DUR=${H2_SECONDS:-3}
NGINX=${NGINX:-/usr/sbin/nginx}
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n 8192 2>/dev/null

# make bench builds the library and programs, not the test helper:
# build it here (with make's own variables, from MAKEFLAGS).
if ! make -s O="$B" "$H" >/dev/null 2>&1; then
	echo "httpd bench: cannot build $H" >&2
	exit 1
fi
for t in wrk h2load "$NGINX" python3; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP httpd bench: $t not installed"
		exit 0
	fi
done

free_port() {
	python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# up: waits until a TLS server answers on $PORT.
up() {
	i=0
	while [ $i -lt 100 ]; do
		curl -skf -o /dev/null "https://127.0.0.1:$PORT/" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "httpd bench: server on $PORT did not start" >&2
	exit 1
}

# start_ours [BINARY] / start_nginx WORKERS: set PID and PORT.
start_ours() {
	rm -f "$tmp/ours.out"
	"${1:-$H}" serve 127.0.0.1:0 $D/server.pem $D/server-key.pem -s 1 \
		> "$tmp/ours.out" 2> "$tmp/ours.err" &
	PID=$!
	pids="$pids $PID"
	PORT=
	i=0
	while [ -z "$PORT" ] && [ $i -lt 100 ]; do
		sleep 0.05
		PORT=$(sed -n 's/^PORT //p' "$tmp/ours.out")
		i=$((i + 1))
	done
	up
}

start_nginx() {
	PORT=$(free_port)
	mkdir -p "$tmp/ng"
	cat > "$tmp/ng/nginx.conf" <<EOF
worker_processes $1;
daemon off;
pid $tmp/ng/nginx.pid;
error_log $tmp/ng/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $tmp/ng/body;
	proxy_temp_path $tmp/ng/proxy;
	fastcgi_temp_path $tmp/ng/fastcgi;
	uwsgi_temp_path $tmp/ng/uwsgi;
	scgi_temp_path $tmp/ng/scgi;
	keepalive_requests 1000000000;
	server {
		listen 127.0.0.1:$PORT ssl http2;
		ssl_certificate $PWD/$D/server.pem;
		ssl_certificate_key $PWD/$D/server-key.pem;
		ssl_protocols TLSv1.3;
		location / {
			default_type text/plain;
			return 200 "Success!!!";
		}
	}
}
EOF
	"$NGINX" -p "$tmp/ng" -e "$tmp/ng/error.log" -c "$tmp/ng/nginx.conf" \
		2> "$tmp/ng/stderr" &
	PID=$!
	pids="$pids $PID"
	up
}

stop() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

# sum FIELD: VmHWM or VmRSS of $PID and its children, in KiB.
sum() {
	t=0
	for p in $PID $(pgrep -P "$PID"); do
		v=$(awk -v f="$1:" '$1 == f {print $2}' "/proc/$p/status" \
			2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $t
}

# ticks: CPU time of $PID and its children, in clock ticks.
ticks() {
	t=0
	for p in $PID $(pgrep -P "$PID"); do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo $t
}

# cpu_per T0 N: microseconds of server CPU per request since T0.
cpu_per() {
	awk -v t="$(( $(ticks) - $1 ))" -v n="$2" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { if (n > 0) printf "%.0f", t * 1e6 / hz / n;
			 else print "-" }'
}

# wrk_run CONNS: requests/s and CPU per request (and a note on errors)
# into $RPS and $CPU.
wrk_run() {
	t0=$(ticks)
	wrk -t1 -c"$1" -d"${DUR}s" --timeout 10s "https://127.0.0.1:$PORT/" \
		> "$tmp/wrk.txt" 2>&1
	CPU=$(cpu_per "$t0" "$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")")
	RPS=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$tmp/wrk.txt")
	if grep -qE 'Socket errors|Non-2xx' "$tmp/wrk.txt"; then
		echo "note: wrk -c$1 on port $PORT:" \
			"$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.txt")"
	fi
}

h2_run() {
	t0=$(ticks)
	h2load -c64 -m1 -D"$H2DUR" "https://127.0.0.1:$PORT/" \
		> "$tmp/h2.txt" 2>&1
	CPU=$(cpu_per "$t0" "$(awk '/^requests:/ {print $8}' "$tmp/h2.txt")")
	RPS=$(awk '/^finished in/ {printf "%.0f", $4}' "$tmp/h2.txt")
	grep '^requests:' "$tmp/h2.txt" | grep -q ' 0 failed, 0 errored' ||
		echo "note: h2load on port $PORT: $(grep '^requests:' \
			"$tmp/h2.txt")"
}

# hold_run: RSS before and with 1,000 idle keep-alive connections (four
# clients of 250 each, to make the handshakes quicker).
hold_run() {
	RSS0=$(sum VmRSS)
	hps=""
	for k in 1 2 3 4; do
		rm -f "$tmp/hold$k.out"
		"$H" hold "127.0.0.1:$PORT" $D/bundle-a.pem 250 \
			> "$tmp/hold$k.out" 2> "$tmp/hold$k.err" &
		hps="$hps $!"
	done
	i=0
	while [ $i -lt 600 ] &&
	      [ "$(cat "$tmp"/hold?.out 2>/dev/null | grep -c HELD)" -lt 4 ]
	do
		sleep 0.1
		i=$((i + 1))
	done
	RSS1=$(sum VmRSS)
	HELD=$(sed -n 's/^HELD //p' "$tmp"/hold?.out |
		awk '{ n += $1 } END { print n + 0 }')
	for hp in $hps; do kill "$hp" 2>/dev/null; done
	for hp in $hps; do wait "$hp" 2>/dev/null; done
}

# measure NAME WHAT START...: one column of figures; WHAT says which:
# all, or mem (-c64 and idle only).
measure() {
	name=$1
	what=$2
	shift 2
	for c in 64 256; do
		eval "${name}_r$c=- ${name}_m$c=- ${name}_c$c=-"
		[ $what = mem ] && [ $c = 256 ] && continue
		"$@"
		wrk_run $c
		eval "${name}_r$c=\${RPS:-0} ${name}_m$c=$(sum VmHWM)"
		eval "${name}_c$c=\$CPU"
		stop
	done
	eval "${name}_h2=- ${name}_mh2=- ${name}_ch2=- ${name}_i0=-"
	eval "${name}_i1=-"
	eval "${name}_held=-"
	[ $what = wrk ] && return
	if [ $what = all ]; then
		"$@"
		h2_run
		eval "${name}_h2=\${RPS:-0} ${name}_mh2=$(sum VmHWM)"
		eval "${name}_ch2=\$CPU"
		stop
	fi
	"$@"
	hold_run
	eval "${name}_i0=$RSS0 ${name}_i1=$RSS1 ${name}_held=\${HELD:-0}"
	stop
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
S=
if command -v musl-gcc >/dev/null 2>&1 &&
   make -s STATIC=1 build/static/test/test_httpd >/dev/null 2>&1; then
	S=build/static/test/test_httpd
fi
measure ours all start_ours
measure ng1 all start_nginx 1
measure nga wrk start_nginx auto
if [ -n "$S" ]; then
	d=$DUR
	DUR=${STATIC_SECONDS:-5}
	measure st mem start_ours "$S"
	DUR=$d
else
	measure st none true
fi

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b == 0) print "-";
		else printf "%.2f", a / b }'
}

row() { # label ours nginx1 nginxauto static
	printf '%-26s %8s %8s %5s %9s %5s %8s\n' "$1" "$2" "$3" \
		"$(ratio "$2" "$3")" "$4" "$(ratio "$2" "$4")" "$5"
}

echo "HTTPS server: ours (test_httpd serve) vs nginx" \
	"$("$NGINX" -v 2>&1 | sed 's/.*nginx\///'), $(nproc) CPUs;" \
	"ratio = ours / nginx"
printf '%-26s %8s %8s %5s %9s %5s %8s\n' "" ours "nginx(1)" ratio \
	"nginx(N)" ratio "static"
row "wrk -c64 req/s" "$ours_r64" "$ng1_r64" "$nga_r64" "$st_r64"
row "wrk -c64 CPU us/req" "$ours_c64" "$ng1_c64" "$nga_c64" "$st_c64"
row "wrk -c64 peak RSS KiB" "$ours_m64" "$ng1_m64" "$nga_m64" "$st_m64"
row "wrk -c256 req/s" "$ours_r256" "$ng1_r256" "$nga_r256" "$st_r256"
row "wrk -c256 CPU us/req" "$ours_c256" "$ng1_c256" "$nga_c256" \
	"$st_c256"
row "wrk -c256 peak RSS KiB" "$ours_m256" "$ng1_m256" "$nga_m256" \
	"$st_m256"
row "h2load -c64 req/s" "$ours_h2" "$ng1_h2" "$nga_h2" "$st_h2"
row "h2load -c64 CPU us/req" "$ours_ch2" "$ng1_ch2" "$nga_ch2" \
	"$st_ch2"
row "h2load -c64 peak RSS KiB" "$ours_mh2" "$ng1_mh2" "$nga_mh2" \
	"$st_mh2"
row "RSS KiB, idle" "$ours_i0" "$ng1_i0" "$nga_i0" "$st_i0"
row "RSS KiB, 1,000 idle conns" "$ours_i1" "$ng1_i1" "$nga_i1" "$st_i1"
echo "nginx(N): worker_processes auto; static: ours, static with musl" \
	"(as the programs ship); connections held: $ours_held, $ng1_held," \
	"$st_held; load average before: $LOAD0"
for v in "$ours_m64 (glibc)" "$st_m64 (static musl)"; do
	k=${v%% *}
	[ "$k" = - ] && continue
	if [ "$k" -lt 4096 ]; then m=met; else m=MISSED; fi
	echo "target: peak RSS with 64 keep-alive clients < 4096 KiB:" \
		"${v%% *} KiB ${v#* }, $m"
done
echo "1,000 idle keep-alive connections: $(( (ours_i1 - ours_i0) *
	1024 / 1000 )) bytes each (ours)"
