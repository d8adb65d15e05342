#!/bin/sh
# Interop: our HTTP/2 + gRPC Workload API client against a real gRPC
# server (python3-grpcio, test/wlapi/fake_workload_api.py), driven through
# the probe mode of build/test/test_wlapi_client.
#
#   sh test/wlapi_test.sh BUILD_DIR
. test/lib.sh
b=${1:-build}
PROBE=$b/test/test_wlapi_client
# No run may hang the suite.
P="timeout 120 $PROBE"
T=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.2
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if ! command -v protoc >/dev/null || ! $PY -c 'import grpc, jwt' 2>/dev/null
then
	echo "SKIP wlapi: needs protoc, python3-grpcio and python3-jwt"
	finish
	exit
fi
protoc -I proto -I /usr/include --python_out="$T" proto/workload.proto ||
	{ fail protoc "cannot generate workload_pb2"; finish; exit 1; }

# start NAME ARGS...: a server on $T/NAME.sock with state in $T/NAME.
start() {
	n=$1
	shift
	rm -rf "$T/$n"
	WLAPI_PB_DIR=$T $PY test/wlapi/fake_workload_api.py \
		--socket "$T/$n.sock" --state "$T/$n" "$@" \
		> "$T/$n.log" 2>&1 &
	eval "pid_$n=$!"
	PIDS="$PIDS $!"
	i=0
	while [ ! -f "$T/$n/ready" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -f "$T/$n/ready" ] || fail "start $n" "$(tail -n 5 "$T/$n.log")"
}

# stop NAME [SIGNAL]
stop() {
	eval "p=\$pid_$1"
	kill "-${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null
}

# wait_for FILE TEXT [TENTHS]: until FILE holds a line with TEXT.
wait_for() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt "${3:-100}" ]
	do
		sleep 0.1
		i=$((i + 1))
	done
	grep -qF -- "$2" "$1" 2>/dev/null
}

A=unix://$T/main.sock
start main --hint internal --federated 2

# --- every RPC --------------------------------------------------------
out=$($P x509 "$A")
serial=$(cat "$T/main/serial")
expect_contains "x509 svid" "$out" \
	"x509 svid spiffe://example.org/workload serial $serial chain 1 hint 'internal' bundles 3"
expect_contains "x509 own bundle" "$out" "x509 bundle example.org x509 1"
expect_contains "x509 federated bundle" "$out" \
	"x509 bundle federated1.test x509 1"

out=$($P x509bundles "$A")
expect_contains "x509 bundles" "$out" "x509bundles example.org x509 1 jwt 0"
expect_contains "x509 bundles federated" "$out" \
	"x509bundles federated0.test x509 1 jwt 0"

out=$($P jwtbundles "$A")
expect_eq "jwt bundles" "$out" "jwtbundles example.org x509 0 jwt 1"

out=$($P jwt "$A" spiffe://example.org/server extra)
expect_contains "jwt svid" "$out" \
	"jwt ES256 sub spiffe://example.org/workload naud 2 hint 'internal' token ey"
tok=$(echo "$out" | sed -n 's/.* token //p')

out=$($P validate "$A" spiffe://example.org/server "$tok")
expect_contains "validate" "$out" "valid sub spiffe://example.org/workload claims {"
# The server's map order varies; each member is checked.
expect_contains "validate claims sub" "$out" \
	'"sub":"spiffe://example.org/workload"'
expect_contains "validate claims aud" "$out" \
	'"aud":["spiffe://example.org/server","extra"]'
expect_contains "validate claims exp" "$out" '"exp":1'
out=$($P validate "$A" spiffe://example.org/other "$tok")
expect_contains "validate wrong audience" "$out" \
	"error validate -20 InvalidArgument: "

out=$($P noheader "$A")
expect_eq "missing header" "$out" \
	"error noheader -20 InvalidArgument: security header missing from request"

out=$($P multi "$A")
expect_contains "two watches and unary calls on one connection" "$out" \
	"multi ok updates 1 jwt 1 errors 0"

out=$($P jwtsource "$A" spiffe://example.org/server)
expect_contains "jwt source bundles" "$out" "jwtbundle example.org x509 0 jwt 1"
expect_contains "jwt source caches the token" "$out" "cached yes"

# --- a watch across three rotations -----------------------------------
$P watch "$A" 4 > "$T/watch.out" 2>&1 &
wpid=$!
PIDS="$PIDS $wpid"
seen=""
for r in 0 1 2 3; do
	s=$(cat "$T/main/serial")
	if wait_for "$T/watch.out" "serial $s "; then pass; else
		fail "rotation $r" "serial $s not seen: $(cat "$T/watch.out")"
	fi
	seen="$seen $s"
	[ $r -lt 3 ] && kill -USR1 "$pid_main"
	# the server writes the new serial before it pushes
	i=0
	while [ $r -lt 3 ] && [ "$(cat "$T/main/serial")" = "$s" ] &&
	      [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
done
wait "$wpid"
expect_eq "watch exit" "$?" 0
expect_eq "four distinct serials" \
	"$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" 4
expect_eq "one update per rotation" "$(grep -c '^update svid' "$T/watch.out")" 4
expect_contains "watch stop is final" "$(cat "$T/watch.out")" \
	"watcherror -28 final 1 Canceled: watch stopped"

# --- a watch's backoff: 1 s, 2 s, 3 s ... between attempts -------------
# Nobody listens: attempts at 0, 1, 3 and 6 s, then the stop is final.
out=$($P watchfor "unix://$T/none.sock" 6500)
expect_eq "watch attempts in 6.5 s" \
	"$(echo "$out" | grep -c 'final 0 Unavailable: ')" 4
expect_eq "backoff schedule" "$(echo "$out" | awk -F'[@ ]' '
	BEGIN { split("0 1000 3000 6000", want, " ") }
	/final 0/ {
		n++
		if ($2 < want[n] || $2 > want[n] + 400) bad = bad " " $2
	}
	END { if (bad == "") print "ok"; else print "off:" bad }')" ok
expect_contains "stop after failures is final" "$out" \
	"-28 final 1 Canceled: watch stopped"

# InvalidArgument is final: one call, one error, no retry.
before=$(grep -c '^FetchX509SVID' "$T/main/calls.log")
out=$($P watchfor "$A" 2500 noheader)
expect_eq "invalid argument ends the watch" \
	"$(echo "$out" | sed 's/@[0-9]*//')" \
	"watcherror -20 final 1 InvalidArgument: security header missing from request"
expect_eq "no retry after InvalidArgument" \
	"$(($(grep -c '^FetchX509SVID' "$T/main/calls.log") - before))" 1

# PermissionDenied on an open stream (SIGUSR2): reported, retried with
# backoff, and the watch gets the identity back when it returns.
$P watchfor "$A" 6000 > "$T/pd.out" 2>&1 &
pdpid=$!
PIDS="$PIDS $pdpid"
wait_for "$T/pd.out" "update svid" || fail "pd first" "$(cat "$T/pd.out")"
kill -USR2 "$pid_main"
wait_for "$T/pd.out" "final 0 PermissionDenied: no identity issued" ||
	fail "pd reported" "$(cat "$T/pd.out")"
kill -USR2 "$pid_main"
wait "$pdpid"
expect_eq "updates around PermissionDenied" \
	"$(grep -c '^update svid' "$T/pd.out")" 2
expect_eq "last update after the denial" \
	"$(grep -v '^update bundle' "$T/pd.out" | tail -n 2 | head -n 1 |
	   cut -d' ' -f1-2)" "update svid"

# --- PermissionDenied, and the source's start-up timeout ---------------
start denied --no-identity
D=unix://$T/denied.sock
out=$($P x509 "$D")
expect_eq "permission denied" "$out" \
	"error x509 -20 PermissionDenied: no identity issued"
out=$($P timeout "$D" 1500)
expect_eq "startup timeout names the last error" "$out" \
	"error -24 timed out after 1.5s; last error: PermissionDenied: no identity issued"
stop denied

# --- responses over 256 KiB (flow control, WINDOW_UPDATE) --------------
# 700 federated trust domains of one CA each: ~280 KB in one message.
start big --federated 700
out=$($P x509 "unix://$T/big.sock")
expect_contains "x509 over 256 KiB" "$out" \
	"x509 svid spiffe://example.org/workload serial $(cat "$T/big/serial") chain 1 hint '' bundles 701"
expect_contains "x509 over 256 KiB, last bundle" "$out" \
	"x509 bundle federated699.test x509 1"
out=$($P x509bundles "unix://$T/big.sock")
expect_eq "bundles over 256 KiB" "$(echo "$out" | grep -c ' x509 1 jwt 0$')" 701
stop big
# One bundle of 701 CAs (~259 KB) arrives whole, then breaks the limit of
# SPIFFE_BUNDLE_MAX_CERTS certificates in a bundle.
start bigone --extra-bundle-certs 700
out=$($P x509 "unix://$T/bigone.sock")
expect_eq "701 CAs in one bundle" "$out" \
	"error x509 -3 SVID 0: bundle: x509bundle: more than 256 certificates"
stop bigone

# --- the source survives a server restart ------------------------------
start restart
R=unix://$T/restart.sock
$P source "$R" 25 > "$T/source.out" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
s1=$(cat "$T/restart/serial")
wait_for "$T/source.out" "version 1 serial $s1" || \
	fail "source first" "$(cat "$T/source.out")"
stop restart
sleep 1
start restart
s2=$(cat "$T/restart/serial")
if wait_for "$T/source.out" "version 2 serial $s2" 200; then pass; else
	fail "source after restart" "$(cat "$T/source.out")"
fi
# In between it kept serving the first SVID: no other version showed.
expect_eq "no gap in versions" "$(grep -c '^version' "$T/source.out")" 2
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# --- memory: a running X.509 source, 3-certificate chain, 10 CAs -------
start mem --intermediate --extra-bundle-certs 9
out=$($P rss "unix://$T/mem.sock")
expect_contains "rss chain and bundle" "$out" "chain 2 bundle 10"
echo "INFO $out"
stop mem

# --- valgrind: no error, no leak in our client --------------------------
# vg NAME WANT_EXIT ARGS...: the probe under memcheck exits as it should
# and memcheck counts no error (leaks included).
vg() {
	n=$1
	want=$2
	shift 2
	timeout 300 valgrind --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect,possible \
		"$PROBE" "$@" > "$T/vg.out" 2> "$T/vg.err"
	rc=$?
	if [ $rc -eq "$want" ] &&
	   grep -q "ERROR SUMMARY: 0 errors" "$T/vg.err"; then pass; else
		fail "valgrind $n" "exit $rc: $(grep -v '^--' "$T/vg.err" |
			head -n 30)"
	fi
}
if nm "$PROBE" 2>/dev/null | grep -q __asan_init; then
	echo "SKIP valgrind: $PROBE is built with ASan"
elif command -v valgrind >/dev/null; then
	vg multi 0 multi "$A"
	vg watch 0 watch "$A" 1
	vg unreachable 1 x509 "unix://$T/none.sock"
	vg "source timeout" 0 timeout "unix://$T/none.sock" 1200
else
	fail valgrind "not installed (test/deps.sh installs it)"
fi

finish
