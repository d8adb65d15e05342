#!/bin/sh
# fault_test.sh - the example's programs and spiffe-agent under faults:
# the agent absent, killed and restarted; the upstream down; slow,
# vanishing and oversized clients; a connection flood; file descriptors
# exhausted; SIGPIPE.  Every case asserts the exact outcome (status, log
# line, exit code); timings are asserted as windows wide enough for a
# loaded two-core machine.
#
# The identities come from our own spiffe-agent: one entry per program,
# selected by uid and executable path.
#
#   sh test/fault_test.sh BUILD_DIR
. test/lib.sh
b=${1:-build}
B=$(cd "$b" && pwd)
AGENT=$B/spiffe-agent
SERVER=$B/spiffe-jwt-using-proxy-server
PROXY=$B/spiffe-jwt-using-proxy-proxy
CLIENT=$B/spiffe-jwt-using-proxy-client
SPIFFE=$B/spiffe
SRV_ID=spiffe://example.org/server
CLI_ID=spiffe://example.org/client
T=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n 8192 2>/dev/null

for p in "$AGENT" "$SERVER" "$PROXY" "$CLIENT" "$SPIFFE"; do
	[ -x "$p" ] || { fail build "$p is missing"; finish; exit 1; }
done
if ! command -v protoc >/dev/null || ! command -v curl >/dev/null ||
    ! command -v openssl >/dev/null ||
    ! $PY -c 'import grpc, jwt, cryptography' 2>/dev/null; then
	echo "SKIP fault: needs protoc, curl, openssl, python3-grpcio," \
		"python3-jwt and python3-cryptography"
	finish
	exit
fi
protoc -I proto -I /usr/include --python_out="$T" proto/workload.proto ||
	{ fail protoc "cannot generate workload_pb2"; finish; exit 1; }
# Under the sanitizers a TLS handshake is too slow for 2,000 at once.
case "$b" in *san*) SAN=1 ;; *) SAN=0 ;; esac

# --- helpers --------------------------------------------------------------

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Log lines without Go's timestamp ("2026/12/03 17:00:00 ").
untime() {
	sed -E 's#^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} ##'
}
last_line() { tail -n 1 "$1" | untime; }

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds.
wait_for() {
	n=$(( $1 * 10 ))
	shift
	i=0
	while ! "$@" && [ $i -lt $n ]; do
		sleep 0.1
		i=$((i + 1))
	done
	"$@"
}

has_text() { grep -qF -- "$2" "$1" 2>/dev/null; }

alive() { kill -0 "$1" 2>/dev/null; }

# agent_start: spiffe-agent on $T/agent.sock with the data in $T/data;
# waits for "Serving the Workload API".
agent_start() {
	: > "$T/agent.log"
	"$AGENT" run -dataDir "$T/data" -socketPath "$T/agent.sock" \
		"$@" > "$T/agent.log" 2>&1 &
	AGENT_PID=$!
	PIDS="$PIDS $!"
	wait_for 10 has_text "$T/agent.log" 'msg="Serving the Workload API"' ||
		fail "agent start" "$(tail -n 5 "$T/agent.log")"
}

# serve NAME PROGRAM ARGS...: our server or proxy on 127.0.0.1:0 (unless
# ARGS give -listen) with the agent's socket; waits for "Serving HTTPS on
# port N" and sets PORT and pid_NAME.  Its log is $T/NAME.log.
serve() {
	n=$1
	shift
	SPIFFE_ENDPOINT_SOCKET=unix://$T/agent.sock "$@" \
		> "$T/$n.log" 2>&1 &
	eval "pid_$n=$!"
	PIDS="$PIDS $!"
	PORT=$(https_port "$T/$n.log" 300)
	[ -n "$PORT" ] || fail "start $n" "$(tail -n 5 "$T/$n.log")"
}

# client PORT: our client through the proxy on PORT; sets rc and out.
client() {
	SPIFFE_ENDPOINT_SOCKET=unix://$T/agent.sock "$CLIENT" -timeout 10s \
		-url "https://localhost:$1/" > "$T/client.out" 2>&1
	rc=$?
	out=$(untime < "$T/client.out")
}

# req PORT [CURL ARGS...]: curl to https://127.0.0.1:PORT/; sets code
# (000 when no response) and body.  The agent's SVIDs name no host, so
# curl cannot check them (-k); trust is e2e_test's and tls_test's
# subject, these cases are about faults.
req() {
	p=$1
	shift
	curl -sS -k --max-time 20 -o "$T/body" \
		-w '%{http_code}' "$@" "https://127.0.0.1:$p/" \
		> "$T/code" 2> "$T/curl.err"
	code=$(cat "$T/code")
	body=$(cat "$T/body" 2>/dev/null)
	rm -f "$T/body"
}

# h2req PORT [NGHTTP ARGS...]: an HTTP/2 request with nghttp (curl 7.88
# drops a response that a RST_STREAM NO_ERROR follows while it is still
# uploading, which RFC 9113 section 8.1 allows); sets code (000 when
# there is no response) and, for a 200, body.
h2req() {
	p=$1
	shift
	nghttp -v -t 20 "$@" "https://127.0.0.1:$p/" > "$T/nghttp.out" 2>&1
	code=$(sed -n 's/.*recv (stream_id=[0-9]*) :status: //p' \
		"$T/nghttp.out" | head -n 1)
	code=${code:-000}
	body=
	[ "$code" != 200 ] ||   # once more for the body alone
		body=$(nghttp -t 20 "$@" "https://127.0.0.1:$p/" 2>/dev/null)
}

# serial PORT: the serial of the certificate served on PORT.
serial() {
	openssl s_client -connect "127.0.0.1:$1" < /dev/null 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}

# cpu_ticks PID: user + system clock ticks the process used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# --- the agent and its entries --------------------------------------------
U=$(id -u)
for e in "$SRV_ID $SERVER" "$SRV_ID $PROXY" "$CLI_ID $CLIENT" \
    "$CLI_ID $SPIFFE"; do
	set -- $e
	"$AGENT" entry create -dataDir "$T/data" -spiffeID "$1" \
		-selector "unix:uid:$U" -selector "unix:path:$2" \
		> /dev/null || fail "entry create" "$1 $2"
done

# --- the agent absent at start --------------------------------------------
# Nothing at the path, then a socket nobody listens on: each program
# gives up after its -timeout, naming the last error.
$PY -c 'import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/dead.sock"
for s in none dead; do
	case $s in
	none) why="No such file or directory" ;;
	dead) why="Connection refused" ;;
	esac
	want="Unable to create X509Source: timed out after 1s; last error: "
	want="${want}Unavailable: cannot connect to unix://$T/$s.sock: $why"
	for p in "$SERVER" "$PROXY" "$CLIENT"; do
		n=${p##*-}
		t0=$(now_ms)
		SPIFFE_ENDPOINT_SOCKET=unix://$T/$s.sock "$p" -timeout 1s \
			> "$T/absent.out" 2>&1
		rc=$?
		ms=$(( $(now_ms) - t0 ))
		expect_eq "agent absent ($s), $n: exit" "$rc" 1
		expect_eq "agent absent ($s), $n: message" \
			"$(untime < "$T/absent.out")" "$want"
		if [ $ms -ge 1000 ] && [ $ms -lt 3000 ]; then pass; else
			fail "agent absent ($s), $n: gave up after" "$ms ms"
		fi
	done
done

# --- the agent late at start ----------------------------------------------
# A server waiting for its SVID (-timeout 30s) while no agent runs: the
# agent comes up 2 s later and the server serves within its retry
# schedule (1 s, 2 s, 4 s ...).
serve_bg() { # NAME PROGRAM ARGS...: serve without waiting
	sn=$1
	shift
	SPIFFE_ENDPOINT_SOCKET=unix://$T/agent.sock "$@" > "$T/$sn.log" 2>&1 &
	eval "pid_$sn=$!"
	PIDS="$PIDS $!"
}
serve_bg late "$SERVER" -listen 127.0.0.1:0 -timeout 30s
sleep 2
alive "$pid_late" && pass || fail "agent late: server waits" "exited"
t0=$(now_ms)
agent_start
wait_for 20 has_text "$T/late.log" "Serving HTTPS on port"
ms=$(( $(now_ms) - t0 ))
expect_eq "agent late: server starts" \
	"$(sed -n 's/.* \(Serving HTTPS\) on port .*/\1/p' "$T/late.log")" \
	"Serving HTTPS"
echo "INFO agent 2 s late: the server served $ms ms after it came up"
kill "$pid_late"

# --- the example running ---------------------------------------------------
serve server "$SERVER" -listen 127.0.0.1:0
SP=$PORT
serve proxy "$PROXY" -listen 127.0.0.1:0 -upstream "https://localhost:$SP"
PP=$PORT
client "$PP"
expect_eq "running: client" "$rc $out" "0 Success!!!"
TOK=$("$SPIFFE" api fetch jwt -socketPath "$T/agent.sock" \
	-audience "$SRV_ID" -output json | $PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["token"])')
AUTH="Authorization: Bearer $TOK"
req "$PP" -H "$AUTH"
expect_eq "running: curl through the proxy" "$code $body" "200 Success!!!"

# --- slow loris (runs while the cases below do) ---------------------------
# One client sends half a request line over TLS, one sends nothing at
# all (not even a ClientHello); the server's header timeout (10 s, the
# reference's ReadHeaderTimeout) closes both, and everyone else is
# served meanwhile.
$PY test/fault/loris.py "$SP" tls > "$T/loris_tls.ms" &
LORIS_TLS=$!
$PY test/fault/loris.py "$SP" tcp > "$T/loris_tcp.ms" &
LORIS_TCP=$!
PIDS="$PIDS $LORIS_TLS $LORIS_TCP"

# --- oversized requests ----------------------------------------------------
head -c 20000 /dev/zero | tr '\0' a > "$T/big_value"
BIG="x-big: $(cat "$T/big_value")"
head -c $((1024 * 1024 + 1)) /dev/zero > "$T/big_body"
for p in "$SP server" "$PP proxy"; do
	set -- $p
	req "$1" --http1.1 -H "$AUTH" -H "$BIG"
	expect_eq "HTTP/1.1 header over 16 KiB, $2" "$code" 431
	req "$1" --http1.1 -H "$AUTH" --data-binary @"$T/big_body"
	expect_eq "HTTP/1.1 body over 1 MiB, $2" "$code" 413
	req "$1" --http1.1 -H "$AUTH"
	expect_eq "HTTP/1.1 after the refusals, $2" "$code $body" \
		"200 Success!!!"
	h2req "$1" -H "$AUTH" -H "$BIG"
	expect_eq "HTTP/2 header over 16 KiB, $2" "$code" 431
	h2req "$1" -H "$AUTH" -d "$T/big_body"
	expect_eq "HTTP/2 body over 1 MiB, $2" "$code" 413
	h2req "$1" -H "$AUTH"
	expect_eq "HTTP/2 after the refusals, $2" "$code $body" \
		"200 Success!!!"
done
# HTTP/2 frames past SETTINGS_MAX_FRAME_SIZE (16384): the connection
# ends with GOAWAY FRAME_SIZE_ERROR, the server, the proxy and the agent
# alike.
for c in "bigheaders 0" "bigdata 1" "bigping 0"; do
	for p in "$SP server" "$PP proxy"; do
		set -- $c $p
		out=$($PY test/fault/h2raw.py --tls "127.0.0.1:$3" $1 16385)
		expect_eq "HTTP/2 $1 16385, $4" "$out" \
			"GOAWAY FRAME_SIZE_ERROR last=$2
END"
	done
done

# The agent: the same for frames; a gRPC message over its 16 KiB request
# limit is ResourceExhausted, in grpc-go's words.
for c in "bigheaders 0" "bigdata 1" "bigping 0"; do
	set -- $c
	out=$($PY test/fault/h2raw.py --unix "$T/agent.sock" $1 16385)
	expect_eq "HTTP/2 $1 16385, agent" "$out" \
		"GOAWAY FRAME_SIZE_ERROR last=$2
END"
done
grpc_raw() { # METHOD MESSAGE_BYTES
	m=$($PY -c 'import sys
n = int(sys.argv[1]) - 3      # tag, a 2-byte length, the audience
print((b"\x0a" + bytes([n & 0x7f | 0x80, n >> 7]) + b"x" * n).hex())' "$2")
	WLAPI_PB_DIR=$T $PY test/wlapi/grpc_client.py --socket \
		"$T/agent.sock" raw --method "/SpiffeWorkloadAPI/$1" \
		--body "$m" 2>&1 | cut -c 1-200
}
expect_eq "gRPC message of 16385 bytes, agent" \
	"$(grpc_raw FetchJWTSVID 16385)" "STATUS ResourceExhausted grpc: \
received message larger than max (16385 vs. 16384)"
RE='code=ResourceExhausted error="grpc: received message larger than max'
expect_eq "gRPC message of 16385 bytes, agent: logged" \
	"$(grep -cF "$RE (16385 vs. 16384)\"" "$T/agent.log")" 1
# At the limit the call goes on to attestation (the Python client has no
# entry).
expect_eq "gRPC message of 16384 bytes, agent: taken" \
	"$(grpc_raw FetchJWTSVID 16384)" \
	"STATUS PermissionDenied no identity issued"

# --- a client that disconnects mid-response --------------------------------
# HTTP/1.1: a request, then a reset (SO_LINGER 0) as soon as the first
# response byte arrives, or before any does (while the handler runs).
# HTTP/2: ten requests on one connection whose stream window is 4 bytes,
# so every response stalls after 4 bytes of its body; then a reset.
# A watch's client killed.  The proxy, the server and the agent carry
# on.
abort_after() { # PORT BYTES: request, read BYTES, reset
	$PY -c 'import socket, ssl, struct, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1",
    int(sys.argv[1]))), server_hostname="localhost")
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nAuthorization: " +
    sys.argv[3].encode() + b"\r\n\r\n")
got = 0
while got < int(sys.argv[2]):
    got += len(s.recv(1))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()' "$1" "$2" "Bearer $TOK"
}
for n in 0 1; do
	for i in 1 2 3 4 5; do abort_after "$PP" $n; abort_after "$SP" $n; done
done
for p in "$SP server" "$PP proxy"; do
	set -- $p
	out=$($PY test/fault/h2raw.py --tls "127.0.0.1:$1" stall 10 \
		"Bearer $TOK")
	expect_eq "HTTP/2 reset with 10 responses half sent, $2" "$out" \
		"PARTIAL 10"
done
i=0
while [ $i -lt 5 ]; do   # a watch stream, reset by its client
	timeout -s KILL 2 "$SPIFFE" api watch -socketPath "$T/agent.sock" \
		> /dev/null 2>&1
	i=$((i + 1))
done
for n in server proxy; do
	eval "p=\$pid_$n"
	alive "$p" && pass || fail "client reset: $n alive" "gone"
done
alive "$AGENT_PID" && pass || fail "client reset: agent alive" "gone"
req "$PP" -H "$AUTH"
expect_eq "client reset: served after" "$code $body" "200 Success!!!"

# --- SIGPIPE never kills a process ----------------------------------------
# Standard error a pipe whose reader is gone (each program logs a line
# and then more), then a signal sent by hand: both are ignored; the
# programs go on serving.
# piped NAME CMD...: runs CMD with its output into "head -n 1" (which
# then exits), its pid in pid_NAME, and waits for that first line.
piped() {
	pn=$1
	shift
	sh -c 'echo $$ > "$0"; exec "$@"' "$T/$pn.pid" "$@" 2>&1 |
		head -n 1 > "$T/$pn.first" &
	i=0
	while [ ! -s "$T/$pn.first" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	eval "pid_$pn=$(cat "$T/$pn.pid")"
	eval "PIDS=\"\$PIDS \$pid_$pn\""
}
piped pipesrv env SPIFFE_ENDPOINT_SOCKET=unix://$T/agent.sock "$SERVER" \
	-listen 127.0.0.1:0
PIPE_PORT=$(https_port "$T/pipesrv.first" 1)
for i in 1 2 3; do
	req "$PIPE_PORT"        # each logs "Malformed header" to the pipe
done
expect_eq "stderr a closed pipe: server answers" "$code $body" \
	"401 Invalid or unsupported authorization header"
alive "$pid_pipesrv" && pass || fail "stderr a closed pipe: server" "died"
piped pipeagent "$AGENT" run -dataDir "$T/data" -socketPath \
	"$T/pipe.sock"
for i in 1 2 3; do      # each logs the attestation of its caller
	out=$("$AGENT" healthcheck -socketPath "$T/pipe.sock" 2>&1)
done
expect_eq "stderr a closed pipe: agent answers" "$out" "Agent is healthy."
alive "$pid_pipeagent" && pass || fail "stderr a closed pipe: agent" "died"
for n in server proxy; do
	eval "p=\$pid_$n"
	kill -PIPE "$p"
done
kill -PIPE "$AGENT_PID"
sleep 0.2
for n in server proxy; do
	eval "p=\$pid_$n"
	alive "$p" && pass || fail "kill -PIPE: $n" "died"
done
alive "$AGENT_PID" && pass || fail "kill -PIPE: agent" "died"
req "$PP" -H "$AUTH"
expect_eq "kill -PIPE: served after" "$code $body" "200 Success!!!"
kill "$pid_pipesrv" "$pid_pipeagent"

# --- slow loris: the outcome ------------------------------------------------
for m in tls tcp; do
	eval "p=\$LORIS_$(echo $m | tr a-z A-Z)"
	wait "$p"
	ms=$(cat "$T/loris_$m.ms")
	case $ms in
	''|OPEN) fail "slow loris ($m): closed" "still open after 30 s" ;;
	*)	if [ "$ms" -ge 9900 ] && [ "$ms" -lt 15000 ]; then pass; else
			fail "slow loris ($m): closed after 10 s" "$ms ms"
		fi ;;
	esac
done
expect_eq "slow loris: both logged" "$(grep -c \
	' closing a connection: header timeout$' "$T/server.log")" 2

# --- the upstream server down ------------------------------------------------
kill "$pid_server"
wait "$pid_server" 2>/dev/null
req "$PP" -H "$AUTH"
expect_eq "upstream down: proxy answers" "$code $body" "502 "
case "$(last_line "$T/proxy.log")" in
"http: proxy error: "*"Connection refused"*) pass ;;
*) fail "upstream down: proxy logs" "$(last_line "$T/proxy.log")" ;;
esac
serve server2 "$SERVER" -listen "127.0.0.1:$SP"
pid_server=$pid_server2
req "$PP" -H "$AUTH"
expect_eq "upstream back: proxy forwards" "$code $body" "200 Success!!!"


# --- the agent killed while the server, the proxy and a watch run ---------
# They keep serving with the SVIDs and bundles they have, and reconnect
# (1 s, 2 s, 4 s ... apart) to the agent started again on the same data.
"$SPIFFE" api watch -socketPath "$T/agent.sock" -output json \
	> "$T/watch.out" 2> "$T/watch.err" &
WATCH=$!
PIDS="$PIDS $WATCH"
updates() { grep -c '"update":"x509_context"' "$T/watch.out"; }
watch_has() { [ "$(updates)" -ge "$1" ]; }
wait_for 10 watch_has 1
expect_eq "watch: first update" "$(updates)" 1
old_p=$(serial "$PP")
old_s=$(serial "$SP")
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
t_kill=$(now_ms)
for i in 1 2 3; do   # each a new TLS connection to the proxy
	req "$PP" -H "$AUTH"
	expect_eq "agent killed: request $i served" "$code $body" \
		"200 Success!!!"
done
expect_eq "agent killed: the proxy keeps its SVID" "$(serial "$PP")" \
	"$old_p"
expect_eq "agent killed: the server keeps its SVID" "$(serial "$SP")" \
	"$old_s"
sleep 2
for p in "$pid_server" "$pid_proxy" "$WATCH"; do
	alive "$p" && pass || fail "agent killed: process $p" "exited"
done
expect_eq "agent killed: the watch says why" \
	"$(grep -m 1 'watch of X.509' "$T/watch.err" | cut -d' ' -f 3-)" \
	"watch of X.509 contexts: Unavailable: connection closed by the \
server (retrying)"
agent_start
t_start=$(now_ms)
renewed() {
	[ "$(serial "$PP")" != "$old_p" ] && [ "$(serial "$SP")" != "$old_s" ]
}
wait_for 40 renewed
t_new=$(now_ms)
renewed && pass || fail "agent back: new SVIDs served" "after 40 s"
wait_for 10 watch_has 2
expect_eq "agent back: the watch got an update" "$(updates)" 2
echo "INFO agent down $(( t_start - t_kill )) ms; new SVIDs served" \
	"$(( t_new - t_start )) ms after it came back"
client "$PP"
expect_eq "agent back: client" "$rc $out" "0 Success!!!"

# --- 2,000 connections at once -------------------------------------------
# A server holds at most 1,024 connections (httpd's max_conns) and
# accepts and closes at once any past that: the excess is refused, not
# queued.  A fresh server, so nothing else holds one of its connections.
serve flood "$SERVER" -listen 127.0.0.1:0
FP=$PORT
# TCP only: the server holds 1,024 and closes 976.  Should the kernel's
# accept queue (SPIFFE_HTTPD_BACKLOG, capped by net.core.somaxconn)
# overflow, the kernel drops some of those 976 itself (DROPPED).
out=$($PY test/fault/flood.py 127.0.0.1 "$FP" 2000 --tcp-only)
echo "INFO 2000 TCP connections at once: $out"
set -- $out
expect_eq "2000 TCP connections: all connected" "$1 $2 $3 $4" \
	"CONNECTED 2000 FAILED 0"
expect_eq "2000 TCP connections: 1024 held" "$5 $6" "SERVED 1024"
expect_eq "2000 TCP connections: 976 refused" $(( $8 + ${10:-0} )) 976
if [ $SAN = 1 ]; then
	skip "2000 TLS clients" "handshakes under the sanitizers are too slow"
else
	# Each TLS client sends a request with a token.  Which ones finish
	# depends on how fast 1,024 handshakes run against the 10 s header
	# timeout, so the outcome asserted is: every client got 200 or was
	# closed, none hangs, at least the excess was refused.
	out=$($PY test/fault/flood.py 127.0.0.1 "$FP" 2000 --header "$AUTH")
	set -- $out
	echo "INFO 2000 TLS clients at once: $out"
	expect_eq "2000 TLS clients: all connected" "$1 $2 $3 $4" \
		"CONNECTED 2000 FAILED 0"
	expect_eq "2000 TLS clients: served + refused" $(( $6 + $8 )) 2000
	if [ "$8" -ge 976 ] && [ "$6" -ge 1 ]; then pass; else
		fail "2000 TLS clients: some served, the excess refused" "$out"
	fi
	expect_eq "2000 TLS clients: every answer 200" "${10:-}" "200:$6"
	alive "$pid_flood" && pass || fail "2000 TLS clients: server" "died"
fi
req "$FP" -H "$AUTH"
expect_eq "after 2000 connections: served" "$code $body" "200 Success!!!"
kill "$pid_flood"
# Started with a soft limit of 512 open files (the hard one 8192): the
# server raises it, as Go programs do, and still holds 1,024.
serve lowsoft sh -c 'ulimit -Sn 512 && exec "$@"' sh "$SERVER" \
	-listen 127.0.0.1:0
out=$($PY test/fault/flood.py 127.0.0.1 "$PORT" 2000 --tcp-only)
set -- $out
expect_eq "soft limit 512: 1024 held" "$5 $6" "SERVED 1024"
kill "$pid_lowsoft"

# --- file descriptors exhausted ---------------------------------------------
# ulimit -n 64 and 100 connections held for 3 s: the server and the proxy
# log the accept error, back off instead of spinning, and serve the
# request that waited in the listen queue once the connections go.
for fdn in fdserver fdproxy; do
	case $fdn in
	fdserver) set -- "$SERVER" ;;
	fdproxy) set -- "$PROXY" -upstream "https://localhost:$SP" ;;
	esac
	serve $fdn sh -c 'ulimit -n 64 && exec "$@"' sh "$@" \
		-listen 127.0.0.1:0
	p=$PORT
	eval "pid=\$pid_$fdn"
	$PY test/fault/flood.py 127.0.0.1 "$p" 100 --tcp-only --hold 3 \
		> "$T/$fdn.flood" &
	fl=$!
	EMFILE="http: Accept error: accept4: Too many open files; retrying in"
	wait_for 10 has_text "$T/$fdn.log" "$EMFILE 5ms"
	expect_eq "fds exhausted, $fdn: logged" \
		"$(grep -m 1 'Accept error' "$T/$fdn.log" | untime)" \
		"$EMFILE 5ms"
	req "$p" -H "$AUTH" &    # waits in the listen queue
	rq=$!
	sleep 0.5
	c0=$(cpu_ticks "$pid")
	sleep 1
	c1=$(cpu_ticks "$pid")
	if [ $((c1 - c0)) -lt 20 ]; then pass; else
		fail "fds exhausted, $fdn: no spinning" \
			"$((c1 - c0)) ticks in 1 s"
	fi
	wait $fl
	wait $rq
	code=$(cat "$T/code")
	expect_eq "fds exhausted, $fdn: the queued request served" "$code" 200
	req "$p" -H "$AUTH"
	expect_eq "fds exhausted, $fdn: served after" "$code $body" \
		"200 Success!!!"
	kill "$pid"
done

# The agent the same way: 100 Workload API connections held.
# (ulimit -n sets the hard limit too: the agent raises its soft limit
# to the hard one.)
sh -c 'ulimit -n 64 && exec "$@"' sh "$AGENT" run -dataDir "$T/data" \
	-socketPath "$T/fd.sock" > "$T/fdagent.log" 2>&1 &
fda=$!
PIDS="$PIDS $fda"
wait_for 10 has_text "$T/fdagent.log" 'msg="Serving the Workload API"'
$PY -c 'import socket, sys, time
s = []
for _ in range(100):
    c = socket.socket(socket.AF_UNIX)
    c.connect(sys.argv[1])
    s.append(c)
time.sleep(3)' "$T/fd.sock" &
fl=$!
wait_for 10 has_text "$T/fdagent.log" 'msg="Cannot accept a connection"'
want='level=error msg="Cannot accept a connection" error="Too many open'
expect_eq "fds exhausted, agent: logged" "$(grep -m 1 'Cannot accept' \
	"$T/fdagent.log" | sed 's/^time="[^"]*" //')" "$want files\""
sleep 0.5
c0=$(cpu_ticks "$fda")
sleep 1
c1=$(cpu_ticks "$fda")
if [ $((c1 - c0)) -lt 20 ]; then pass; else
	fail "fds exhausted, agent: no spinning" "$((c1 - c0)) ticks in 1 s"
fi
wait $fl
expect_eq "fds exhausted, agent: healthy after" \
	"$("$AGENT" healthcheck -socketPath "$T/fd.sock" 2>&1)" \
	"Agent is healthy."
kill "$fda"

# --- a Workload API answer over the 4 MiB gRPC limit -----------------------
# ResourceExhausted in grpc-go's words, from the CLI at once and from a
# program as the last error when its start-up timeout ends.
$PY test/fault/big_api.py "$T/big.sock" 4194305 > "$T/big.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 has_text "$T/big.out" READY
TOOBIG="ResourceExhausted: grpc: received message larger than max"
TOOBIG="$TOOBIG (4194305 vs. 4194304)"
out=$("$SPIFFE" api fetch x509 -socketPath "$T/big.sock" 2>&1)
expect_eq "4 MiB + 1 answer: spiffe api fetch x509" "$? $out" \
	"1 spiffe: cannot fetch X.509-SVIDs: $TOOBIG"
out=$("$SPIFFE" api fetch jwt -audience x -socketPath "$T/big.sock" 2>&1)
expect_eq "4 MiB + 1 answer: spiffe api fetch jwt" "$? $out" \
	"1 spiffe: cannot fetch JWT-SVIDs: $TOOBIG"
SPIFFE_ENDPOINT_SOCKET=unix://$T/big.sock "$SERVER" -timeout 1s \
	> "$T/big.srv" 2>&1
expect_eq "4 MiB + 1 answer: server exit" "$?" 1
expect_eq "4 MiB + 1 answer: server" "$(untime < "$T/big.srv")" \
	"Unable to create X509Source: timed out after 1s; last error: $TOOBIG"

finish
