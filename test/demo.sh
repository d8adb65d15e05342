#!/bin/sh
# demo.sh - `make demo`: go-spiffe's "JWT-SVID using proxy" example with
# our programs, end to end, on this machine.
#
#   sh test/demo.sh BUILD_DIR
#
# A Workload API on a temporary socket gives the server and the proxy
# the identity spiffe://example.org/server and the client
# spiffe://example.org/client.  The server listens on 127.0.0.1:8080, the
# proxy on 127.0.0.1:8443 (a free port instead, said so, when one is
# taken).  The client runs twice: with the server's audience (Success!!!)
# and with spiffe://example.org/some-other-server (401).  Every log is
# printed, labelled; everything started is stopped on exit, ^C included.
#
# The Workload API is spiffe-agent when BUILD_DIR has it, else the
# python3-grpcio fake of the tests (test/wlapi/), one instance per
# identity.
set -u
b=${1:-build}
SERVER=$b/spiffe-jwt-using-proxy-server
PROXY=$b/spiffe-jwt-using-proxy-proxy
CLIENT=$b/spiffe-jwt-using-proxy-client
SRV_ID=spiffe://example.org/server
CLI_ID=spiffe://example.org/client
OTHER=spiffe://example.org/some-other-server

for p in "$SERVER" "$PROXY" "$CLIENT"; do
	if [ ! -x "$p" ]; then
		echo "demo: $p is missing; building" >&2
		make -s O="$b" all || exit 1
		break
	fi
done

T=$(mktemp -d /tmp/spiffe-demo.XXXXXX) || exit 1
PIDS=""
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM HUP
trap 'exit 141' PIPE

say() { printf '%s\n' "$*"; }
# label NAME FILE: FILE's lines prefixed "NAME | ".
label() { sed "s/^/$(printf '%-7s' "$1")| /" "$2"; }
die() {
	echo "demo: $*" >&2
	for f in "$T"/*.log; do
		[ -f "$f" ] && label "$(basename "$f" .log)" "$f" >&2
	done
	exit 1
}

# wait_line FILE PATTERN PID: until FILE has a line matching the sed
# PATTERN (with one group, printed) or process PID is gone; 10 s at most.
wait_line() {
	i=0
	while [ $i -lt 200 ]; do
		v=$(sed -n "s/$2/\1/p" "$1" 2>/dev/null | head -n 1)
		[ -n "$v" ] && { echo "$v"; return 0; }
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# --- the Workload API -----------------------------------------------------
if [ -x "$b/spiffe-agent" ]; then
	die "spiffe-agent support: see the agent section below"
else
	command -v protoc >/dev/null &&
	    /usr/bin/python3 -c 'import grpc, jwt' 2>/dev/null ||
		die "spiffe-agent is not built, and the fake Workload API" \
		    "needs protoc, python3-grpcio and python3-jwt" \
		    "(sh test/deps.sh installs them)"
	protoc -I proto -I /usr/include --python_out="$T" \
		proto/workload.proto || die "protoc failed"
	# fake NAME ID: one fake Workload API per identity, one CA.
	fake() {
		WLAPI_PB_DIR=$T /usr/bin/python3 test/wlapi/fake_workload_api.py \
			--socket "$T/$1.sock" --state "$T/$1" \
			--shared "$T/ca" --spiffe-id "$2" > "$T/$1.log" 2>&1 &
		PIDS="$PIDS $!"
		wait_line "$T/$1/ready" '^\([0-9]*\)$' $! > /dev/null ||
			die "the fake Workload API for $2 did not start"
	}
	fake agent-server "$SRV_ID"
	fake agent-client "$CLI_ID"
	SRV_SOCK=$T/agent-server.sock
	CLI_SOCK=$T/agent-client.sock
	say "Workload API: spiffe-agent is not built yet, so the fake of the"
	say "  tests (test/wlapi/fake_workload_api.py), one per identity:"
	say "  $SRV_ID on $SRV_SOCK"
	say "  $CLI_ID on $CLI_SOCK"
fi

# --- server and proxy -----------------------------------------------------
# start NAME PORT PROGRAM ARGS...: runs a server or proxy on
# 127.0.0.1:PORT, or on a free port if PORT is taken; sets GOT_PORT.
start() {
	n=$1
	port=$2
	shift 2
	for addr in "127.0.0.1:$port" 127.0.0.1:0; do
		: > "$T/$n.log"
		SPIFFE_ENDPOINT_SOCKET=unix://$SRV_SOCK "$@" -listen "$addr" \
			>> "$T/$n.log" 2>&1 &
		pid=$!
		PIDS="$PIDS $pid"
		GOT_PORT=$(wait_line "$T/$n.log" \
			'.* Serving HTTPS on port \([0-9]*\).*' $pid) &&
			return 0
		grep -q "Address already in use" "$T/$n.log" ||
			die "the $n did not start"
		say "Port $port is taken: the $n listens on a free port instead."
	done
	die "the $n did not start"
}
start server 8080 "$SERVER"
SP=$GOT_PORT
start proxy 8443 "$PROXY" -upstream "https://localhost:$SP"
PP=$GOT_PORT
say "Server: https://127.0.0.1:$SP   Proxy: https://127.0.0.1:$PP" \
	"-> https://localhost:$SP"
say

# --- the client, twice ----------------------------------------------------
# client N AUDIENCE...: runs the client; its lines, then the server's
# lines that came meanwhile.
client() {
	n=$1
	shift
	lines=$(wc -l < "$T/server.log")
	say "-- Run $n: $CLIENT${1:+ $1}"
	SPIFFE_ENDPOINT_SOCKET=unix://$CLI_SOCK "$CLIENT" \
		-url "https://localhost:$PP/" "$@" > "$T/client-$n.log" 2>&1
	rc=$?
	label client "$T/client-$n.log"
	tail -n "+$((lines + 1))" "$T/server.log" > "$T/new"
	label server "$T/new"
	say "   (client exit status $rc)"
	say
	return $rc
}
client 1 || die "run 1 should have printed Success!!!"
grep -q ' Success!!!$' "$T/client-1.log" || die "no Success!!! in run 1"
client 2 "$OTHER" && die "run 2 should have been refused"
grep -q ' unexpected status: 401 Unauthorized$' "$T/client-2.log" ||
	die "run 2 did not get 401 Unauthorized"
grep -q 'Invalid token: jwtsvid: expected audience' "$T/server.log" ||
	die "the server did not log the audience mismatch"

# --- every log ------------------------------------------------------------
say "-- Logs"
for n in server proxy; do
	label "$n" "$T/$n.log"
done
for f in "$T"/agent*.log; do
	[ -s "$f" ] && label "$(basename "$f" .log)" "$f"
done
say
say "Done: the proxy passed the client's JWT-SVID through, the server"
say "accepted it for its own audience and refused it for another."
