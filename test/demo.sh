#!/bin/sh
# demo.sh - `make demo`: go-spiffe's "JWT-SVID using proxy" example with
# our programs, end to end, on this machine.
#
#   sh test/demo.sh BUILD_DIR
#
# spiffe-agent, on a temporary socket with a temporary data folder, gives
# the server and the proxy the identity spiffe://example.org/server and
# the client spiffe://example.org/client (entries with unix:path
# selectors).  The server listens on 127.0.0.1:8080, the proxy on
# 127.0.0.1:8443 (a free port instead, said so, when one is taken).  The client runs twice: with the server's audience (Success!!!)
# and with spiffe://example.org/some-other-server (401).  Every log is
# printed, labelled; everything started is stopped on exit, ^C included.
set -u
b=${1:-build}
SERVER=$b/spiffe-jwt-using-proxy-server
PROXY=$b/spiffe-jwt-using-proxy-proxy
CLIENT=$b/spiffe-jwt-using-proxy-client
AGENT=$b/spiffe-agent
SRV_ID=spiffe://example.org/server
CLI_ID=spiffe://example.org/client
OTHER=spiffe://example.org/some-other-server

for p in "$SERVER" "$PROXY" "$CLIENT" "$AGENT"; do
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

# --- the Workload API: spiffe-agent --------------------------------------
# Entries select workloads by the path of their executable, so the demo
# needs no extra Unix users (a SPIRE set-up uses unix:user, see README).
DATA=$T/data
SOCK=$T/agent.sock
say "Workload API: spiffe-agent on $SOCK, data in $DATA"
for e in "$SRV_ID $SERVER" "$SRV_ID $PROXY" "$CLI_ID $CLIENT"; do
	id=${e%% *}
	path=$(realpath "${e#* }")
	say "  entry $id <- unix:path:$path"
	"$AGENT" entry create -dataDir "$DATA" -spiffeID "$id" \
		-selector "unix:path:$path" > "$T/entry.out" 2>&1 ||
		die "entry create failed: $(cat "$T/entry.out")"
done
"$AGENT" run -dataDir "$DATA" -socketPath "$SOCK" > "$T/agent.log" 2>&1 &
PIDS="$PIDS $!"
wait_line "$T/agent.log" '.*msg="\(Serving the Workload API\)".*' $! \
	> /dev/null || die "spiffe-agent did not start"
SRV_SOCK=$SOCK
CLI_SOCK=$SOCK

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
label agent "$T/agent.log"
say
say "Done: the proxy passed the client's JWT-SVID through, the server"
say "accepted it for its own audience and refused it for another."
