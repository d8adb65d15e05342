#!/bin/sh
# agent_test.sh - spiffe-agent end to end, spoken to by python3-grpcio
# (test/wlapi/grpc_client.py, which checks what it gets with
# python3-cryptography and python3-jwt) and by our own `spiffe` client:
# every RPC and its refusals, attestation by uid and by executable,
# rotation, entry changes pushed to open streams, bad input from one
# client while others are served, config file, restart, healthcheck,
# signals and the socket's life.  Workloads of other uids need root
# (setpriv); without it those cases are skipped.
#
#   sh test/agent_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
b=${1:?usage: agent_test.sh BUILD_DIR}
A=$b/spiffe-agent
T=$(mktemp -d)
chmod 755 "$T"
PIDS=""
# A background job may be a subshell running a function (e.g. cl): its
# children are killed by parent pid first, so none outlives the test.
cleanup() {
	for p in $PIDS; do
		pkill -9 -P "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! command -v protoc >/dev/null ||
	! $PY -c 'import grpc, jwt, cryptography' 2>/dev/null; then
	skip agent "needs protoc, python3-grpcio, -jwt and -cryptography"
	finish
	exit
fi
mkdir -p "$T/pb"
protoc -I proto -I /usr/include --python_out="$T/pb" proto/workload.proto ||
	{ fail protoc "cannot generate workload_pb2"; finish; exit 1; }
cp test/wlapi/grpc_client.py "$T/pb/"
chmod -R a+rX "$T/pb"
ROOT=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && ROOT=1

SOCK=$T/run/public/api.sock     # its folders do not exist yet
DATA=$T/data

# cl ARGS: the python client on $SOCK, as we are.
cl() {
	WLAPI_PB_DIR=$T/pb $PY "$T/pb/grpc_client.py" --socket "$SOCK" "$@" \
		2>&1
}
# as UID ARGS: the python client as another uid and gid, no groups.
as() {
	u=$1
	shift
	setpriv --reuid="$u" --regid="$u" --clear-groups \
		env WLAPI_PB_DIR="$T/pb" $PY "$T/pb/grpc_client.py" \
		--socket "$SOCK" "$@" 2>&1
}
entry() { "$A" entry "$@" -dataDir "$DATA" 2>&1; }
IDL=$(printf 'SPIFFE ID:\t\t')   # how `spiffe api fetch x509` shows an ID

# wait_for FILE TEXT [TENTHS]: 0 once FILE holds TEXT.
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		[ $i -ge "${3:-100}" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# start NAME ARGS...: an agent logging to $T/NAME.log, once it serves.
start() {
	n=$1
	shift
	"$A" run "$@" > "$T/$n.log" 2>&1 &
	eval "pid_$n=$!"
	PIDS="$PIDS $!"
	wait_for "$T/$n.log" 'msg="Serving the Workload API"' 150 ||
		fail "start $n" "$(tail -n 5 "$T/$n.log")"
}

# stop NAME [SIGNAL]: sets rc_NAME to its exit status.
stop() {
	eval "p=\$pid_$1"
	kill "-${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	eval "rc_$1=$?"
}

# bg NAME CMD...: runs CMD in the background, output to $T/NAME.out.
bg() {
	n=$1
	shift
	"$@" > "$T/$n.out" 2>&1 &
	eval "bg_$n=$!"
	PIDS="$PIDS $!"
}
bgkill() {
	eval "p=\$bg_$1"
	pkill -TERM -P "$p" 2>/dev/null
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# until_ok TENTHS CMD...: retries CMD until its output starts with OK.
until_ok() {
	t=$1
	shift
	i=0
	while :; do
		out=$("$@")
		case "$out" in OK*) return 0 ;; esac
		[ $i -ge "$t" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

# --- start: folders, modes, a second agent, health ----------------------
start main -dataDir "$DATA" -socketPath "$SOCK" -x509SVIDTTL 4s \
	-logLevel debug
expect_eq socket-mode "$(stat -c '%a %F' "$SOCK")" "777 socket"
expect_eq socket-dir-mode "$(stat -c %a "$T/run/public") \
$(stat -c %a "$T/run")" "755 755"
expect_eq data-dir-mode "$(stat -c %a "$DATA")" 700
out=$("$A" run -dataDir "$T/data2" -socketPath "$SOCK" 2>&1)
expect_eq second-agent-exit $? 1
expect_contains second-agent-refused "$out" \
	"another agent is serving on $SOCK"
expect_eq socket-kept "$(stat -c %F "$SOCK")" socket
out=$("$A" healthcheck -socketPath "$SOCK" 2>&1)
expect_eq health-exit $? 0
expect_eq health-out "$out" "Agent is healthy."
out=$("$A" healthcheck -socketPath "unix://$SOCK" 2>&1)
expect_eq health-unix-uri "$? $out" "0 Agent is healthy."
out=$("$A" healthcheck -socketPath "run/agent.sock" 2>&1)
expect_eq health-relative "$? $out" "2 spiffe-agent: -socketPath must be an\
 absolute path of at most 120 bytes"

# --- no entries yet ------------------------------------------------------
expect_eq no-entry "$(cl x509)" "STATUS PermissionDenied no identity issued"
expect_eq no-entry-bundles "$(cl x509-bundles)" \
	"STATUS PermissionDenied no identity issued"
expect_eq no-entry-jwt "$(cl jwt --aud x)" \
	"STATUS PermissionDenied no identity issued"

# --- entries, picked up without a restart --------------------------------
out=$(entry create -spiffeID spiffe://example.org/root -selector unix:uid:0 \
	-parentID spiffe://example.org/host -hint root -entryID e-root)
expect_eq entry-create "$out" "Entry ID         : e-root
SPIFFE ID        : spiffe://example.org/root
Parent ID        : spiffe://example.org/host
Revision         : 0
X509-SVID TTL    : default
JWT-SVID TTL     : default
Selector         : unix:uid:0
Hint             : root"
out=$(entry create -spiffeID spiffe://example.org/root-dup \
	-selector unix:uid:0 -selector unix:gid:0 -hint root \
	-x509SVIDTTL 60 -jwtSVIDTTL 2m)
expect_contains entry-create-ttl "$out" "X509-SVID TTL    : 60
JWT-SVID TTL     : 120
Selector         : unix:gid:0
Selector         : unix:uid:0"
out=$(entry create -spiffeID spiffe://example.org/root -selector unix:uid:0 \
	-parentID spiffe://example.org/host)
expect_eq entry-create-dup-exit $? 1
expect_contains entry-create-dup "$out" "spiffe-agent: "
out=$(entry create -spiffeID spiffe://other.org/x -selector unix:uid:0)
expect_eq entry-create-td-exit $? 1
out=$(entry create -spiffeID spiffe://example.org/x)
expect_eq entry-create-usage $? 2
out=$(entry create -spiffeID spiffe://example.org/x -selector unix:path:bin/x \
	2>&1)
expect_eq entry-create-bad-selector "$? $out" "2 spiffe-agent: invalid selector\
 \"unix:path:bin/x\": unix:path takes an absolute path"
for u in 4242 4243 4246 4247 4248; do
	entry create -spiffeID "spiffe://example.org/u$u" \
		-selector "unix:uid:$u" -entryID "e-$u" > /dev/null ||
		fail "entry $u" "not created"
done
mkdir -p "$T/bin"
cp "$b/spiffe" "$T/bin/probe-a"
cp "$b/spiffe" "$T/bin/probe-b"
printf 'x' >> "$T/bin/probe-b"          # another SHA-256, still runs
chmod 755 "$T/bin" "$T/bin/probe-a" "$T/bin/probe-b"
sha_b=$(sha256sum "$T/bin/probe-b" | cut -d' ' -f1)
entry create -spiffeID spiffe://example.org/probe-a -selector unix:uid:4245 \
	-selector "unix:path:$T/bin/probe-a" > /dev/null
entry create -spiffeID spiffe://example.org/probe-b -selector unix:uid:4245 \
	-selector "unix:sha256:$sha_b" > /dev/null
until_ok 50 cl x509 || fail entries-picked-up "$(cl x509)"

out=$(entry show -spiffeID spiffe://example.org/root)
expect_eq entry-show "$out" "Found 1 entry
Entry ID         : e-root
SPIFFE ID        : spiffe://example.org/root
Parent ID        : spiffe://example.org/host
Revision         : 0
X509-SVID TTL    : default
JWT-SVID TTL     : default
Selector         : unix:uid:0
Hint             : root"
out=$(entry show -selector unix:uid:0 | grep -c '^Entry ID')
expect_eq entry-show-selector "$out" 2
out=$(entry show | head -n 1)
expect_eq entry-show-all "$out" "Found 9 entries"
out=$("$A" entry show -dataDir "$T/typo" 2>&1)
expect_eq entry-show-no-folder "$? $out" "1 spiffe-agent: no data folder\
 $T/typo: no entries were created there (see -dataDir)"
expect_eq entry-show-no-folder-made "$(ls -d "$T/typo" 2>/dev/null)" ""

# --- every RPC, as root ---------------------------------------------------
out=$(cl x509)
expect_contains x509 "$out" "OK spiffe://example.org/root serial="
case "$out" in
*root-dup*) fail x509-hint-dedup "$out" ;;
*) pass ;;
esac
bundle1=$(cl x509-bundles)
expect_contains x509-bundles "$bundle1" "OK spiffe://example.org:"
expect_eq jwt-bundles "$(cl jwt-bundles)" "OK spiffe://example.org:1"
out=$(cl jwt --aud spiffe://example.org/server --aud extra)
expect_eq jwt "$out" "OK spiffe://example.org/root \
aud=spiffe://example.org/server,extra ttl=300 hint=root"
out=$(cl jwt --aud a --spiffe-id spiffe://example.org/root-dup)
expect_eq jwt-by-id "$out" \
	"OK spiffe://example.org/root-dup aud=a ttl=120 hint=root"
out=$(cl jwt --aud spiffe://example.org/server --print-token)
token=$(printf '%s\n' "$out" | sed -n 's/^TOKEN //p')
out=$(cl validate --aud spiffe://example.org/server --token "$token")
expect_contains validate "$out" \
	'OK spiffe://example.org/root {"aud": ["spiffe://example.org/server"],'
expect_contains validate-exp "$out" '"exp": '
expect_contains validate-sub "$out" '"sub": "spiffe://example.org/root"}'
out=$(cl validate --aud other --token "$token")
expect_eq validate-aud "$out" "STATUS InvalidArgument expected audience \
in [\"other\"] (audience=[\"spiffe://example.org/server\"])"
# The signature's first character changed: still canonical base64url.
sig=${token##*.}
case "$sig" in A*) c=B ;; *) c=A ;; esac
out=$(cl validate --aud x --token "${token%.*}.$c${sig#?}")
kid=$($PY -c 'import jwt, sys; print(jwt.get_unverified_header(sys.argv[1])
["kid"])' "$token")
expect_eq validate-sig "$out" "STATUS InvalidArgument unable to get claims \
from token: error in cryptographic primitive (ES256 signature does not verify \
with JWT authority \"$kid\")"
expect_eq validate-no-aud "$(cl validate --token "$token")" \
	"STATUS InvalidArgument audience must be specified"
expect_eq validate-no-svid "$(cl validate --aud x)" \
	"STATUS InvalidArgument svid must be specified"
expect_eq jwt-no-aud "$(cl jwt)" \
	"STATUS InvalidArgument audience must be specified"
expect_eq jwt-bad-id "$(cl jwt --aud x --spiffe-id foo)" \
	"STATUS InvalidArgument invalid requested SPIFFE ID: scheme is \
missing or invalid: expected \"spiffe://\" in \"foo\""
expect_eq jwt-not-mine "$(cl jwt --aud x \
	--spiffe-id spiffe://example.org/u4242)" \
	"STATUS PermissionDenied no identity issued"
expect_eq no-header "$(cl x509 --no-header)" \
	"STATUS InvalidArgument security header missing from request"
expect_eq two-headers "$(cl jwt-bundles --header true --header true)" \
	"STATUS InvalidArgument security header missing from request"
expect_eq header-case "$(cl jwt --aud x --header True)" \
	"STATUS InvalidArgument security header missing from request"
expect_eq wit-svid "$(cl raw --stream \
	--method /SpiffeWorkloadAPI/FetchWITSVID)" \
	"STATUS Unimplemented unknown method FetchWITSVID for service \
SpiffeWorkloadAPI"
expect_eq wit-bundles "$(cl raw --stream \
	--method /SpiffeWorkloadAPI/FetchWITBundles)" \
	"STATUS Unimplemented unknown method FetchWITBundles for service \
SpiffeWorkloadAPI"
expect_eq unknown-service "$(cl raw --method /foo.Bar/Baz)" \
	"STATUS Unimplemented unknown service foo.Bar"
expect_eq bad-protobuf "$(cl raw --method /SpiffeWorkloadAPI/FetchJWTSVID \
	--body ff)" "STATUS Internal grpc: error unmarshalling request: \
proto: cannot parse invalid wire-format data"

# Our own client (h/wlapi's) against the agent.
out=$("$b/spiffe" api fetch x509 -socketPath "$SOCK" 2>&1)
expect_contains ours-x509 "$out" "${IDL}spiffe://example.org/root"
out=$("$b/spiffe" api fetch jwt -audience spiffe://example.org/server \
	-socketPath "$SOCK" 2>&1)
expect_contains ours-jwt "$out" "token(spiffe://example.org/root):"
out=$("$b/spiffe" api validate jwt -audience spiffe://example.org/server \
	-svid "$token" -socketPath "$SOCK" 2>&1)
expect_contains ours-validate "$out" "spiffe://example.org/root"

# --- attestation: uids and executables ------------------------------------
if [ $ROOT = 1 ]; then
	out=$(as 4242 x509)
	expect_contains uid-4242 "$out" "OK spiffe://example.org/u4242 serial="
	case "$out" in *root*|*u4243*) fail uid-4242-only "$out" ;; *) pass ;;
	esac
	out=$(as 4243 x509)
	expect_contains uid-4243 "$out" "OK spiffe://example.org/u4243 serial="
	expect_eq uid-unregistered "$(as 4244 x509)" \
		"STATUS PermissionDenied no identity issued"
	expect_eq uid-unregistered-jwt "$(as 4244 jwt --aud x)" \
		"STATUS PermissionDenied no identity issued"
	# Healthy for a caller without an entry too: the agent answered.
	out=$(setpriv --reuid=4244 --regid=4244 --clear-groups \
		"$A" healthcheck -socketPath "$SOCK" 2>&1)
	expect_eq health-no-entry-exit $? 0
	expect_eq health-no-entry "$out" "Agent is healthy."
	expect_file_contains attest-log "$T/main.log" \
		"msg=\"Workload attested\" pid="
	expect_file_contains attest-log-uid "$T/main.log" \
		"uid=4242 gid=4242 path=/usr/bin/python3"
	out=$(setpriv --reuid=4245 --regid=4245 --clear-groups \
		"$T/bin/probe-a" api fetch x509 -socketPath "$SOCK" 2>&1)
	expect_contains probe-a "$out" "${IDL}spiffe://example.org/probe-a"
	case "$out" in *probe-b*) fail probe-a-only "$out" ;; *) pass ;; esac
	out=$(setpriv --reuid=4245 --regid=4245 --clear-groups \
		"$T/bin/probe-b" api fetch x509 -socketPath "$SOCK" 2>&1)
	expect_contains probe-b "$out" "${IDL}spiffe://example.org/probe-b"
	case "$out" in *probe-a*) fail probe-b-only "$out" ;; *) pass ;; esac
	out=$(setpriv --reuid=4245 --regid=4245 --clear-groups \
		"$b/spiffe" api fetch x509 -socketPath "$SOCK" 2>&1)
	expect_contains probe-other "$out" \
		"PermissionDenied: no identity issued"

	# --- rotation: TTL 4s, re-issued and pushed at half life ---------
	out=$(as 4246 watch-x509 --updates 2 --timeout 20)
	n=$(printf '%s\n' "$out" | grep -c '^UPDATE ')
	expect_eq rotation-updates "$n" 2
	set -- $(printf '%s\n' "$out" | sed -n 's/^UPDATE //p' | tr ':' ' ' |
		tr '\n' ' ')
	# UPDATE <now> spiffe //example.org/u4246 <serial> <notAfter>
	t1=$1 s1=$4 e1=$5 t2=$6 s2=$9 e2=${10}
	[ "$s1" != "$s2" ] && pass || fail rotation-new-serial "$out"
	[ "$t2" -lt "$e1" ] && pass ||
		fail rotation-before-expiry "pushed at $t2, old expired $e1"
	[ $((e1 - t1)) -le 5 ] && [ $((e1 - t1)) -ge 3 ] && pass ||
		fail rotation-ttl "lifetime $((e1 - t1))s, want 4s"
	[ "$e2" -gt "$e1" ] && pass || fail rotation-later "$e1 -> $e2"

	# --- entry deleted: the open stream ends with PermissionDenied ----
	bg doomed as 4247 watch-x509 --updates 1000 --timeout 60
	wait_for "$T/doomed.out" "UPDATE " 100 ||
		fail doomed-first "$(cat "$T/doomed.out")"
	expect_eq entry-delete "$(entry delete -entryID e-4247)" \
		"Deleted entry with ID: e-4247"
	wait_for "$T/doomed.out" "STATUS PermissionDenied no identity issued" \
		60 && pass || fail stream-withdrawn "$(cat "$T/doomed.out")"
	expect_eq entry-delete-again-exit "$(entry delete -entryID e-4247 \
		> /dev/null; echo $?)" 1

	# --- entry created: pushed to the open stream ---------------------
	bg push as 4248 watch-x509 --updates 1000 --timeout 60
	wait_for "$T/push.out" "UPDATE " 100 ||
		fail push-first "$(cat "$T/push.out")"
	entry create -spiffeID spiffe://example.org/u4248-more \
		-selector unix:uid:4248 > /dev/null
	wait_for "$T/push.out" "spiffe://example.org/u4248-more" 60 &&
		pass || fail stream-pushed "$(cat "$T/push.out")"
	bgkill push
else
	skip uids "other uids, rotation, deletion and push need root"
fi

# --- bad input from one client; the others are still served ---------------
bg steady cl watch-x509 --updates 1000 --timeout 90
wait_for "$T/steady.out" "UPDATE " 100 ||
	fail steady-first "$(cat "$T/steady.out")"
preface=505249202a20485454502f322e300d0a0d0a534d0d0a0d0a
expect_eq garbage "$(cl bytes --body \
	474554202f20485454502f312e310d0a0d0a --timeout 5)" "CLOSED goaway=1"
expect_eq bad-preface "$(cl bytes --body \
	505249202a20485454502f322e300d0a0d0a58580d0a0d0a --timeout 5)" \
	"CLOSED goaway=1"
# Preface, SETTINGS, then HEADERS on stream 0.
expect_eq bad-frame "$(cl bytes --body \
	${preface}000000040000000000000001010500000000 --timeout 5)" \
	"CLOSED goaway=1"
# Preface and nothing more: still open (the peer may be slow).
expect_eq idle "$(cl bytes --body $preface --timeout 1)" "OPEN"
before=$(grep -c '^UPDATE ' "$T/steady.out")
expect_contains still-served "$(cl x509)" "OK spiffe://example.org/root"
# The open stream keeps getting rotations (every 2 s).
i=0
while [ "$(grep -c '^UPDATE ' "$T/steady.out")" -le "$before" ] &&
	[ $i -lt 60 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(grep -c '^UPDATE ' "$T/steady.out")" -gt "$before" ] && pass ||
	fail steady-still-pushed "$(tail -n 3 "$T/steady.out")"
bgkill steady

# --- many clients at once -------------------------------------------------
bg hold cl hold --count 50 --timeout 30
wait_for "$T/hold.out" "HOLDING 50" 300 && pass ||
	fail hold-50 "$(cat "$T/hold.out")"
expect_contains served-while-50 "$(cl x509)" "OK spiffe://example.org/root"
bgkill hold

# --- a config file ----------------------------------------------------------
cat > "$T/agent.conf" <<EOF
# spiffe-agent settings
trustDomain = "example.org"
socketPath = $T/conf.sock
dataDir = "$T/data-conf"
logLevel = DEBUG
EOF
start conf -config "$T/agent.conf"
out=$("$A" healthcheck -socketPath "$T/conf.sock" 2>&1)
expect_eq config-health "$out" "Agent is healthy."
# The agent logs the healthcheck's connection after answering it.
wait_for "$T/conf.log" "level=debug" 50 && pass ||
	fail config-debug "no level=debug line in $T/conf.log"
stop conf
expect_eq config-stop "$rc_conf" 0
printf 'socketPath = /x\nbogus = 1\n' > "$T/bad.conf"
out=$("$A" run -config "$T/bad.conf" 2>&1)
expect_eq config-bad-exit $? 2
expect_eq config-bad "$out" \
	"spiffe-agent: $T/bad.conf:2: unknown setting \"bogus\""

# --- restart: the same bundle; a watching client reconnects ---------------
bg watch "$b/spiffe" api watch -socketPath "$SOCK"
wait_for "$T/watch.out" "spiffe://example.org/root" 100 ||
	fail watch-first "$(cat "$T/watch.out")"
stop main
expect_eq stop-exit "$rc_main" 0
[ ! -e "$SOCK" ] && pass || fail socket-removed "$(ls -l "$SOCK")"
expect_file_contains stop-log "$T/main.log" \
	'msg="Stopping" signal=Terminated'
out=$("$A" healthcheck -socketPath "$SOCK" 2>&1)
expect_eq health-down-exit $? 1
expect_eq health-down "$out" "Agent is unhealthy."
before=$(grep -c 'Received' "$T/watch.out")
start main2 -dataDir "$DATA" -socketPath "$SOCK"
expect_eq same-bundle "$(cl x509-bundles)" "$bundle1"
i=0
while [ "$(grep -c 'Received' "$T/watch.out")" -le "$before" ] &&
	[ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(grep -c 'Received' "$T/watch.out")" -gt "$before" ] && pass ||
	fail watch-reconnected "$(tail -n 5 "$T/watch.out")"
bgkill watch

# --- a stale socket (agent killed) is replaced ------------------------------
stop main2 KILL
[ -S "$SOCK" ] && pass || fail stale-left "no socket after SIGKILL"
start main3 -dataDir "$DATA" -socketPath "$SOCK"
expect_contains stale-replaced "$(cl x509)" "OK spiffe://example.org/root"
stop main3 INT
expect_eq sigint-exit "$rc_main3" 0
[ ! -e "$SOCK" ] && pass || fail sigint-socket-removed "$(ls -l "$SOCK")"

# --- usage -------------------------------------------------------------------
"$A" -h > /dev/null 2>&1
expect_eq help-exit $? 0
"$A" run -h > /dev/null 2>&1
expect_eq run-help-exit $? 0
"$A" entry create -h > /dev/null 2>&1
expect_eq create-help-exit $? 0
"$A" bogus > /dev/null 2>&1
expect_eq unknown-cmd-exit $? 2
out=$("$A" run -x509SVIDTTL 1.5s -socketPath "$T/x.sock" 2>&1)
expect_eq bad-ttl "$out" "spiffe-agent: invalid value \"1.5s\" for \
x509SVIDTTL: want whole seconds from 1s to 31622400s"
finish
