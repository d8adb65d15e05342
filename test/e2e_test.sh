#!/bin/sh
# e2e_test.sh - the JWT-SVID-through-a-proxy example end to end: our
# client, proxy and server, with their SVIDs and bundles from a Workload
# API, and curl, python3-jwt and a Python HTTPS upstream as independent
# peers.  Every case asserts the exact status and log line.
#
# The Workload API is python3-grpcio's fake (test/wlapi/), one instance
# per identity sharing a CA and JWT key (--shared), with a DNS SAN
# "localhost" so curl can check the proxy's certificate against the
# bundle.
#
#   sh test/e2e_test.sh BUILD_DIR
. test/lib.sh
b=${1:-build}
SERVER=$b/spiffe-jwt-using-proxy-server
PROXY=$b/spiffe-jwt-using-proxy-proxy
CLIENT=$b/spiffe-jwt-using-proxy-client
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

for p in "$SERVER" "$PROXY" "$CLIENT" "$b/spiffe"; do
	[ -x "$p" ] || { fail build "$p is missing"; finish; exit 1; }
done
if ! command -v protoc >/dev/null || ! command -v curl >/dev/null ||
    ! command -v openssl >/dev/null ||
    ! $PY -c 'import grpc, jwt, cryptography' 2>/dev/null; then
	echo "SKIP e2e: needs protoc, curl, openssl, python3-grpcio," \
		"python3-jwt and python3-cryptography"
	finish
	exit
fi
protoc -I proto -I /usr/include --python_out="$T" proto/workload.proto ||
	{ fail protoc "cannot generate workload_pb2"; finish; exit 1; }

# --- helpers --------------------------------------------------------------

# api NAME ID [ARGS...]: a fake Workload API for ID on $T/NAME.sock, its
# state in $T/NAME; pid_NAME is its process.
api() {
	n=$1
	id=$2
	shift 2
	rm -f "$T/$n/ready"
	WLAPI_PB_DIR=$T $PY test/wlapi/fake_workload_api.py \
		--socket "$T/$n.sock" --state "$T/$n" --shared "$T/ca" \
		--spiffe-id "$id" --dns localhost "$@" >> "$T/$n.log" 2>&1 &
	eval "pid_$n=$!"
	PIDS="$PIDS $!"
	i=0
	while [ ! -f "$T/$n/ready" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -f "$T/$n/ready" ] || fail "api $n" "$(tail -n 5 "$T/$n.log")"
}

# api_stop NAME: stops that fake and waits for it to be gone.
api_stop() {
	eval "p=\$pid_$1"
	kill "$p"
	wait "$p" 2>/dev/null
}

# serve NAME API PROGRAM ARGS...: starts our server or proxy on
# 127.0.0.1:0 with the Workload API of fake API; waits for its "Serving
# HTTPS on port N" line and sets PORT (and pid_NAME).  Its log is
# $T/NAME.log.
serve() {
	n=$1
	a=$2
	shift 2
	SPIFFE_ENDPOINT_SOCKET=unix://$T/$a.sock "$@" -listen 127.0.0.1:0 \
		> "$T/$n.log" 2>&1 &
	eval "pid_$n=$!"
	PIDS="$PIDS $!"
	PORT=
	i=0
	while [ -z "$PORT" ] && [ $i -lt 200 ]; do
		PORT=$(sed -n 's/.* Serving HTTPS on port \([0-9]*\).*/\1/p' \
			"$T/$n.log" 2>/dev/null | head -n 1)
		[ -n "$PORT" ] || sleep 0.05
		i=$((i + 1))
	done
	[ -n "$PORT" ] || fail "start $n" "$(tail -n 5 "$T/$n.log")"
}

# Log lines without Go's timestamp ("2026/12/03 17:00:00 ").
untime() {
	sed -E 's#^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} ##'
}
# last_line FILE: the last log line of FILE, without its timestamp.
last_line() { tail -n 1 "$1" | untime; }

# client API PORT [ARGS...]: runs our client with fake API's identity
# against the proxy on PORT; sets rc and out (its log, untimed).
client() {
	a=$1
	p=$2
	shift 2
	SPIFFE_ENDPOINT_SOCKET=unix://$T/$a.sock "$CLIENT" -timeout 10s \
		-url "https://localhost:$p/" "$@" > "$T/client.out" 2>&1
	rc=$?
	out=$(untime < "$T/client.out")
}

# token API AUDIENCE: a JWT-SVID from fake API, via the spiffe CLI.
token() {
	"$b/spiffe" api fetch jwt -socketPath "$T/$1.sock" -audience "$2" \
		-output json | $PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["token"])'
}

# req PORT [CURL ARGS...]: curl to https://localhost:PORT/ trusting the
# bundle; sets code, ver (HTTP version) and body.
req() {
	p=$1
	shift
	curl -sS --max-time 10 --cacert "$T/srv/bundle.pem" \
		--resolve "localhost:$p:127.0.0.1" -o "$T/body" \
		-w '%{http_code} %{http_version}' "$@" \
		"https://localhost:$p/" > "$T/code" 2> "$T/curl.err"
	read -r code ver < "$T/code"
	body=$(cat "$T/body" 2>/dev/null)
}

# expect_req NAME CODE BODY: the last req answered CODE with BODY.
expect_req() {
	expect_eq "$1: status" "$code" "$2"
	expect_eq "$1: body" "$body" "$3"
}

# serial PORT: the serial (hex, lower case) of the certificate on PORT.
serial() {
	openssl s_client -connect "127.0.0.1:$1" < /dev/null 2>/dev/null |
		openssl x509 -noout -serial | sed 's/^serial=//' |
		tr 'A-F' 'a-f' | sed 's/^0*//'
}

# --- the setup: server and proxy as the server, a client ------------------
api srv "$SRV_ID"
api cli "$CLI_ID"
serve server srv "$SERVER" -v
SP=$PORT
serve proxy srv "$PROXY" -upstream "https://localhost:$SP"
PP=$PORT

# --- happy path -----------------------------------------------------------
client cli "$PP"
expect_eq "happy path: exit" "$rc" 0
expect_eq "happy path: client logs the body" "$out" "Success!!!"
# (The server runs with -v: a Token line follows.)
expect_eq "happy path: server" \
	"$(tail -n 2 "$T/server.log" | head -n 1 | untime)" "Request received"
expect_eq "happy path: proxy" "$(last_line "$T/proxy.log")" "GET /"

# --- wrong audience -------------------------------------------------------
client cli "$PP" spiffe://example.org/some-other-server
expect_eq "wrong audience: exit" "$rc" 1
expect_eq "wrong audience: client" "$out" \
	"unexpected status: 401 Unauthorized"
want='Invalid token: jwtsvid: expected audience in '
want=$want'["spiffe://example.org/server"] '
want=$want'(audience=["spiffe://example.org/some-other-server"])'
expect_eq "wrong audience: server" "$(last_line "$T/server.log")" "$want"

# --- malformed Authorization, through the proxy with curl -----------------
TOK=$(token cli "$SRV_ID")
MALFORMED="Invalid or unsupported authorization header"
req "$PP"
expect_req "no Authorization" 401 "$MALFORMED"
expect_eq "no Authorization: server" "$(last_line "$T/server.log")" \
	"Malformed header"
for h in "Basic $TOK" "bearer $TOK" "Bearer $TOK extra" "Bearer" \
    "$TOK"; do
	req "$PP" -H "Authorization: $h"
	expect_req "Authorization: ${h%% *}...(${#h} bytes)" 401 "$MALFORMED"
	expect_eq "Authorization: ${h%% *}...: server" \
		"$(last_line "$T/server.log")" "Malformed header"
done
# Fields are split as Go's strings.Fields splits them.
req "$PP" -H "Authorization: Bearer	 $TOK"
expect_req "Bearer, tab and space, token" 200 "Success!!!"
req "$PP" -H "Authorization: Bearer $TOK"
expect_req "curl with a real token" 200 "Success!!!"

# --- tokens the bundle does not vouch for ---------------------------------
# forge KID: a token like the agent's, signed by a key of our own.
forge() {
	$PY - "$1" <<'PYEOF'
import sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import ec
t = int(time.time())
print(jwt.encode({"sub": "spiffe://example.org/client",
                  "aud": ["spiffe://example.org/server"],
                  "iat": t, "exp": t + 300},
                 ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                 headers={"kid": sys.argv[1], "typ": "JWT"}))
PYEOF
}
req "$PP" -H "Authorization: Bearer $(forge fake-kid-1)"
expect_req "foreign key, known kid" 401 "Unauthorized"
want='Invalid token: jwtsvid: unable to get claims from token: error in '
want=$want'cryptographic primitive (ES256 signature does not verify with '
want=$want'JWT authority "fake-kid-1")'
expect_eq "foreign key, known kid: server" "$(last_line "$T/server.log")" \
	"$want"
req "$PP" -H "Authorization: Bearer $(forge other-kid)"
expect_req "foreign key, unknown kid" 401 "Unauthorized"
expect_eq "foreign key, unknown kid: server" \
	"$(last_line "$T/server.log")" \
	'Invalid token: jwtsvid: no JWT authority "other-kid" found for '\
'trust domain "example.org"'

# --- an expired token, replayed (leeway 0, 2 s tokens) --------------------
api short "$CLI_ID" --jwt-ttl 2
serve strict srv "$SERVER" -leeway 0
STRICT=$PORT
TOK2=$(token short "$SRV_ID")
req "$STRICT" -H "Authorization: Bearer $TOK2"
expect_req "2 s token, fresh" 200 "Success!!!"
sleep 3
req "$STRICT" -H "Authorization: Bearer $TOK2"
expect_req "2 s token, replayed after expiry" 401 "Unauthorized"
expect_eq "replayed after expiry: server" "$(last_line "$T/strict.log")" \
	"Invalid token: jwtsvid: token has expired"
api_stop short

# --- the token the client sends is the one the server checks --------------
client cli "$PP" -v
expect_eq "-v: exit" "$rc" 0
sent=$(sed -n 's/^Sending token \(sha256:[0-9a-f]*\)$/\1/p' <<EOF
$out
EOF
)
got=$(tail -n 1 "$T/server.log" | untime |
	sed -n 's/^Token \(sha256:[0-9a-f]*\) from .*$/\1/p')
expect_eq "-v: client logged a fingerprint" "${#sent}" 71
expect_eq "-v: the server got the bytes the client sent" "$got" "$sent"
expect_eq "-v: server names the subject" "$(last_line "$T/server.log")" \
	"Token $sent from $CLI_ID"

# --- what the proxy forwards, seen by an independent upstream -------------
$PY test/e2e/echo_upstream.py "$T/srv/svid.pem" "$T/srv/key.pem" \
	> "$T/echo.out" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! grep -q '^PORT ' "$T/echo.out" && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
EP=$(sed -n 's/^PORT //p' "$T/echo.out")
serve echoproxy srv "$PROXY" -upstream "https://localhost:$EP/base/"
EPP=$PORT
req "$EPP" -H "Authorization: Bearer $TOK" -H "X-Forwarded-For: 10.0.0.1" \
	-H "Connection: X-Hop" -H "X-Hop: 1" -H "Keep-Alive: timeout=1" \
	-H "TE: trailers" -H "X-End: 2" -H "Expect: 100-continue" \
	--data-binary "a body" \
	-D "$T/headers" --path-as-is -X POST
expect_eq "echo: status" "$code" 200
expect_eq "echo: request line joins the base path" \
	"$(printf '%s\n' "$body" | head -n 1)" "POST /base/ HTTP/1.1"
expect_contains "echo: Authorization byte for byte" "$body" \
	"Authorization: Bearer $TOK
"
expect_contains "echo: X-Forwarded-For appended" "$body" \
	"X-Forwarded-For: 10.0.0.1, 127.0.0.1
"
expect_contains "echo: end-to-end field kept" "$body" "X-End: 2
"
expect_contains "echo: body" "$body" "
a body"
for h in Connection X-Hop Keep-Alive TE Expect; do
	case "$body" in
	*"$h:"*) fail "echo: $h dropped" "$body" ;;
	*) pass ;;
	esac
done
expect_file_contains "echo: response field forwarded" "$T/headers" \
	"X-Upstream: echo"
for h in Keep-Alive X-Upstream-Hop; do
	if grep -qi "^$h:" "$T/headers"; then
		fail "echo: response $h dropped" "$(cat "$T/headers")"
	else
		pass
	fi
done

# --- identities refused ---------------------------------------------------
serve badproxy cli "$PROXY" -upstream "https://localhost:$SP"
client cli "$PORT"
expect_eq "proxy as the client: client exit" "$rc" 1
REFUSED="tls: peer \"$CLI_ID\" not authorized: unexpected ID \"$CLI_ID\""
REFUSED="$REFUSED (expected \"$SRV_ID\")"
expect_eq "proxy as the client: client names the ID it got" "$out" \
	"Error connecting to \"https://localhost:$PORT/\": $REFUSED"

serve badserver cli "$SERVER"
serve badup srv "$PROXY" -upstream "https://localhost:$PORT"
BUP=$PORT
client cli "$BUP"
expect_eq "upstream as the client: client" "$out" \
	"unexpected status: 502 Bad Gateway"
expect_eq "upstream as the client: proxy" "$(last_line "$T/badup.log")" \
	"http: proxy error: $REFUSED"
kill "$pid_badserver"
wait "$pid_badserver" 2>/dev/null
client cli "$BUP"
expect_eq "upstream down: client" "$out" \
	"unexpected status: 502 Bad Gateway"
case "$(last_line "$T/badup.log")" in
"http: proxy error: "*"Connection refused"*) pass ;;
*) fail "upstream down: proxy" "$(last_line "$T/badup.log")" ;;
esac

# --- the Workload API restarted between two runs --------------------------
client cli "$PP"
expect_eq "before the restart" "$rc $out" "0 Success!!!"
api_stop srv
api_stop cli
api srv "$SRV_ID"
api cli "$CLI_ID"
client cli "$PP"
expect_eq "after the restart" "$rc $out" "0 Success!!!"
# The server's and proxy's sources reconnect: a new SVID reaches them.
i=0
while [ "$(serial "$PP")" != "$(cat "$T/srv/serial")" ] && [ $i -lt 100 ]
do
	sleep 0.1
	i=$((i + 1))
done
expect_eq "after the restart: proxy serves the new SVID" "$(serial "$PP")" \
	"$(cat "$T/srv/serial")"

# --- SVID rotation during a run -------------------------------------------
old=$(cat "$T/srv/serial")
SPIFFE_ENDPOINT_SOCKET=unix://$T/cli.sock "$CLIENT" -timeout 10s \
	-url "https://localhost:$PP/" -n 3000 > "$T/long.out" 2>&1 &
long=$!
kill -USR1 "$pid_srv"
i=0
while [ "$(cat "$T/srv/serial")" = "$old" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
new=$(cat "$T/srv/serial")
wait "$long"
expect_eq "rotation: the run in progress finishes" "$?" 0
i=0
while { [ "$(serial "$PP")" != "$new" ] ||
    [ "$(serial "$SP")" != "$new" ]; } && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
expect_eq "rotation: proxy presents the new SVID" "$(serial "$PP")" "$new"
expect_eq "rotation: server presents the new SVID" "$(serial "$SP")" "$new"
client cli "$PP"
expect_eq "rotation: a later connection succeeds" "$rc $out" "0 Success!!!"

# --- HTTP/2 through the proxy ---------------------------------------------
# Our server offers only http/1.1 in ALPN, so curl --http2 goes on in
# HTTP/1.1: asserted, so the day h2 is offered this case says so.
req "$PP" --http2 -H "Authorization: Bearer $TOK"
expect_req "curl --http2" 200 "Success!!!"
expect_eq "curl --http2: negotiated version" "$ver" "1.1"

# --- start-up and usage ---------------------------------------------------
SPIFFE_ENDPOINT_SOCKET=unix://$T/none.sock "$CLIENT" -timeout 500ms \
	> "$T/none.out" 2>&1
expect_eq "no Workload API: exit" "$?" 1
case "$(untime < "$T/none.out")" in
"Unable to create X509Source: timed out after 500ms"*) pass ;;
*) fail "no Workload API: message" "$(cat "$T/none.out")" ;;
esac
"$SERVER" -h > "$T/help" 2>&1
expect_eq "server -h: exit" "$?" 0
expect_file_contains "server -h: usage" "$T/help" \
	"Usage: spiffe-jwt-using-proxy-server [flags]"
"$PROXY" -listen > "$T/help" 2>&1
expect_eq "proxy bad flag: exit" "$?" 2
expect_eq "proxy bad flag: message" "$(cat "$T/help")" \
	"spiffe-jwt-using-proxy-proxy: flag needs an argument: -listen (see \
spiffe-jwt-using-proxy-proxy -h)"
"$CLIENT" -n 0 > "$T/help" 2>&1
expect_eq "client -n 0: exit" "$?" 2

# --- graceful stop --------------------------------------------------------
for n in server proxy; do
	eval "p=\$pid_$n"
	kill "$p"
	wait "$p"
	expect_eq "$n exits 0 on SIGTERM" "$?" 0
done
finish
