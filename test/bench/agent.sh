#!/bin/sh
# agent.sh - spiffe-agent's memory and signing speed (run by make bench).
#
#   sh test/bench/agent.sh BUILD_DIR
#
# 1. Issue rate: one workload (uid 0) with 100 entries; the first
#    FetchX509SVID issues 100 X.509-SVIDs, a second one is served from
#    the cache: (first - second) / 100 is the time of one issue (both
#    after a call that warmed the attestor's executable-hash cache).
#    FetchJWTSVID for those 100 entries, 20 times with 20 audiences:
#    2000 JWT-SVIDs signed; then 20 times the same: 2000 from the cache.
# 2. Memory: 100 workloads, each a process of its own uid with its own
#    entry, each holding a FetchX509SVID stream (`spiffe api watch`):
#    the agent's VmRSS and VmHWM once all got their first SVID; then the
#    same with 100 streams held by one python3-grpcio process.
# Needs root (setpriv) for the 100 uids, python3-grpcio and protoc.
set -u
b=${1:?usage: agent.sh BUILD_DIR}
A=$b/spiffe-agent
PY=/usr/bin/python3
T=$(mktemp -d)
chmod 755 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$T/pb"
protoc -I proto -I /usr/include --python_out="$T/pb" proto/workload.proto
cp test/wlapi/grpc_client.py "$T/pb/"
chmod -R a+rX "$T/pb"
SOCK=$T/api.sock
cl() {
	WLAPI_PB_DIR=$T/pb $PY "$T/pb/grpc_client.py" --socket "$SOCK" "$@"
}
rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$pid/status"; }

"$A" run -dataDir "$T/data" -socketPath "$SOCK" -logLevel warn \
	> "$T/agent.log" 2>&1 &
pid=$!
PIDS="$PIDS $pid"
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
for i in $(seq 0 99); do
	"$A" entry create -dataDir "$T/data" -spiffeID \
		"spiffe://example.org/r$i" -selector unix:uid:0 > /dev/null
	"$A" entry create -dataDir "$T/data" -spiffeID \
		"spiffe://example.org/w$i" -selector "unix:uid:$((5000 + i))" \
		> /dev/null
done
sleep 1.5       # the agent re-reads the registry every second
echo "idle agent, 200 entries: VmRSS $(rss VmRSS) kB"

# --- issue rate -------------------------------------------------------------
x509="--method /SpiffeWorkloadAPI/FetchX509SVID --stream --time"
# A first call hashes python3's executable for attestation (then cached).
cl raw --method /SpiffeWorkloadAPI/FetchX509Bundles --stream --time \
	> /dev/null
set -- $(cl raw $x509)
first=$2 bytes=$4
set -- $(cl raw $x509)
cached=$2
$PY -c "import sys; f, c = float(sys.argv[1]), float(sys.argv[2]); \
print('X.509-SVID: 100 issued in %.1f ms (%d-byte response): %.0f/s; '
      'the same from the cache in %.1f ms' % ((f - c) * 1e3, int(sys.argv[3]),
      100 / (f - c), c * 1e3))" "$first" "$cached" "$bytes"
# Another audience each call, so none is served from the JWT cache.
total=0
for i in $(seq 10 29); do
	set -- $(cl raw --method /SpiffeWorkloadAPI/FetchJWTSVID \
		--body "0a02$(printf '%02x' "$i")78" --time)
	total=$(awk -v a="$total" -v b="$2" 'BEGIN { print a + b }')
done
$PY -c "import sys; t = float(sys.argv[1]); \
print('JWT-SVID: 2000 issued in %.0f ms: %.0f/s (20 calls of 100)' % \
(t * 1e3, 2000 / t))" "$total"
set -- $(cl raw --method /SpiffeWorkloadAPI/FetchJWTSVID --body 0a021078 \
	--repeat 20)
$PY -c "import sys; t = float(sys.argv[1]); \
print('JWT-SVID from the cache: 2000 in %.0f ms: %.0f/s' % \
(t * 1e3, 2000 / t))" "$2"

# --- memory with 100 workloads ---------------------------------------------
for i in $(seq 0 99); do
	setpriv --reuid=$((5000 + i)) --regid=$((5000 + i)) --clear-groups \
		"$b/spiffe" api watch -socketPath "$SOCK" > "$T/w$i.out" 2>&1 &
	PIDS="$PIDS $!"
done
i=0
while [ "$(grep -l 'spiffe://example.org/w' "$T"/w*.out 2>/dev/null |
	wc -l)" -lt 100 ] && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
n=$(grep -l 'spiffe://example.org/w' "$T"/w*.out | wc -l)
echo "$n workload processes (100 uids, 100 entries) each holding" \
	"FetchX509SVID + FetchJWTBundles: VmRSS $(rss VmRSS) kB," \
	"VmHWM $(rss VmHWM) kB"
cl hold --count 100 > "$T/hold.out" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! grep -q HOLDING "$T/hold.out" && [ $i -lt 600 ]; do
	sleep 0.1
	i=$((i + 1))
done
echo "+ 100 FetchX509SVID streams from one python3-grpcio process" \
	"($(cat "$T/hold.out")): VmRSS $(rss VmRSS) kB, VmHWM $(rss VmHWM) kB"
