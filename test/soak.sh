#!/bin/sh
# soak.sh - long runs of the example against spiffe-agent, by hand (not
# part of make test: the full run takes minutes).
#
#   sh test/soak.sh BUILD_DIR [rss|valgrind|all]     (default all)
#
# rss: SOAK_REQUESTS (200000) requests client -> proxy -> server, a
#   fresh client process and TLS connection every SOAK_PER_CONN (100)
#   requests, SOAK_PARALLEL (2) clients at a time.  Every client must
#   succeed.  The RSS of the agent, the proxy and the server is read at
#   10% and at 100% of the run; they must differ by under 5%.
# valgrind: the same with SOAK_VALGRIND_REQUESTS (2000) requests, the
#   agent, the proxy, the server and (for its first and last runs) the
#   client under valgrind memcheck (--leak-check=full
#   --error-exitcode=1); each process then stops on SIGTERM and must exit
#   0: no error, no leak (definite, indirect or possible).
#
# Prints one line per figure and "SOAK PASS" or "SOAK FAIL" last.
set -u
b=${1:?usage: soak.sh BUILD_DIR [rss|valgrind|all]}
mode=${2:-all}
B=$(cd "$b" && pwd)
AGENT=$B/spiffe-agent
SERVER=$B/spiffe-jwt-using-proxy-server
PROXY=$B/spiffe-jwt-using-proxy-proxy
CLIENT=$B/spiffe-jwt-using-proxy-client
REQUESTS=${SOAK_REQUESTS:-200000}
PER_CONN=${SOAK_PER_CONN:-100}
PARALLEL=${SOAK_PARALLEL:-2}
VG_REQUESTS=${SOAK_VALGRIND_REQUESTS:-2000}
VG_EXE=""
T=$(mktemp -d)
PIDS=""
bad=0
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for p in "$AGENT" "$SERVER" "$PROXY" "$CLIENT"; do
	[ -x "$p" ] || { echo "soak: $p is missing (make first)"; exit 2; }
done

say() { echo "soak: $*"; }
fail() { echo "FAIL $*"; bad=1; }

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# wait_text FILE TEXT SECONDS
wait_text() {
	i=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null && [ $i -lt $(($3 * 10)) ]
	do
		sleep 0.1
		i=$((i + 1))
	done
	grep -qF -- "$2" "$1" 2>/dev/null
}

# setup DIR [WRAPPER...]: an agent on DIR/agent.sock (the wrapper runs
# it, e.g. valgrind) with entries for the programs; sets AGENT_PID.
setup() {
	d=$1
	shift
	mkdir -p "$d"
	U=$(id -u)
	for e in "spiffe://example.org/server $SERVER" \
	    "spiffe://example.org/server $PROXY" \
	    "spiffe://example.org/client $CLIENT" \
	    ${VG_EXE:+"spiffe://example.org/server $VG_EXE"}; do
		set -- $e
		"$AGENT" entry create -dataDir "$d/data" -spiffeID "$1" \
			-selector "unix:uid:$U" -selector "unix:path:$2" \
			> /dev/null ||
			{ echo "soak: entry create failed"; exit 1; }
	done
}

# start NAME LOG CMD...: starts CMD in the background; sets PID.
start() {
	n=$1
	log=$2
	shift 2
	"$@" > "$log" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
}

# serving LOG: the port of a "Serving HTTPS on port N" line.
serving() {
	wait_text "$1" "Serving HTTPS on port" 120 || return 1
	sed -n 's/.* Serving HTTPS on port \([0-9]*\).*/\1/p' "$1" | head -n 1
}

# clients SOCK PORT RUNS LOGDIR [WRAPPER...]: RUNS client runs of
# PER_CONN requests, PARALLEL at a time; fails on the first that fails.
clients() {
	c_sock=$1
	c_port=$2
	c_runs=$3
	c_ldir=$4
	shift 4
	c_k=0
	while [ $c_k -lt "$PARALLEL" ]; do
		(
			c_r=$c_k
			while [ $c_r -lt "$c_runs" ]; do
				SPIFFE_ENDPOINT_SOCKET=unix://$c_sock "$@" \
					"$CLIENT" -timeout 30s -n "$PER_CONN" \
					-url "https://localhost:$c_port/" \
					> "$c_ldir/client.$c_k" 2>&1 ||
					{ cat "$c_ldir/client.$c_k"; exit 1; }
				c_r=$((c_r + PARALLEL))
			done
		) &
		eval "cl_$c_k=$!"
		c_k=$((c_k + 1))
	done
	c_k=0
	c_rc=0
	while [ $c_k -lt "$PARALLEL" ]; do
		eval "wait \$cl_$c_k" || c_rc=1
		c_k=$((c_k + 1))
	done
	return $c_rc
}

# --- RSS over the full run -------------------------------------------------
soak_rss() {
	d=$T/rss
	setup "$d"
	start agent "$d/agent.log" "$AGENT" run -dataDir "$d/data" \
		-socketPath "$d/agent.sock"
	A=$PID
	wait_text "$d/agent.log" 'msg="Serving the Workload API"' 30 ||
		{ fail "agent did not start"; return; }
	start server "$d/server.log" env \
		SPIFFE_ENDPOINT_SOCKET=unix://$d/agent.sock \
		"$SERVER" -listen 127.0.0.1:0
	S=$PID
	SP=$(serving "$d/server.log") || { fail "server"; return; }
	start proxy "$d/proxy.log" env \
		SPIFFE_ENDPOINT_SOCKET=unix://$d/agent.sock \
		"$PROXY" -listen 127.0.0.1:0 -upstream "https://localhost:$SP"
	P=$PID
	PP=$(serving "$d/proxy.log") || { fail "proxy"; return; }
	runs=$((REQUESTS / PER_CONN))
	tenth=$((runs / 10))
	say "$REQUESTS requests: $runs client runs of $PER_CONN," \
		"$PARALLEL at a time"
	t0=$(date +%s)
	clients "$d/agent.sock" "$PP" "$tenth" "$d" ||
		{ fail "a client failed in the first 10%"; return; }
	a10=$(rss_kib $A) s10=$(rss_kib $S) p10=$(rss_kib $P)
	t1=$(date +%s)
	clients "$d/agent.sock" "$PP" $((runs - tenth)) "$d" ||
		{ fail "a client failed after 10%"; return; }
	t2=$(date +%s)
	a100=$(rss_kib $A) s100=$(rss_kib $S) p100=$(rss_kib $P)
	n=$(grep -c ' GET /$' "$d/proxy.log")
	m=$(grep -c ' Request received$' "$d/server.log")
	say "first 10%: $((t1 - t0)) s; the rest: $((t2 - t1)) s;" \
		"$((REQUESTS / (t2 - t0 > 0 ? t2 - t0 : 1))) requests/s"
	[ "$n" -eq "$REQUESTS" ] && [ "$m" -eq "$REQUESTS" ] ||
		fail "requests logged: proxy $n, server $m (want $REQUESTS)"
	printf 'soak: %-8s %10s %10s %8s\n' process "RSS@10%" "RSS@100%" diff
	for x in "agent $a10 $a100" "proxy $p10 $p100" "server $s10 $s100"; do
		set -- $x
		# per mille, to one decimal place of a percent
		pm=$(( ($3 - $2) * 1000 / $2 ))
		abs=${pm#-}
		printf 'soak: %-8s %7d KiB %7d KiB %5s.%s%%\n' "$1" "$2" "$3" \
			"$(( pm / 10 ))" "$(( abs % 10 ))"
		[ "$abs" -lt 50 ] || fail "$1: RSS grew from $2 to $3 KiB"
	done
	c=$( { /usr/bin/time -f %M env \
		SPIFFE_ENDPOINT_SOCKET=unix://$d/agent.sock "$CLIENT" \
		-n "$PER_CONN" -url "https://localhost:$PP/" >/dev/null; } \
		2>&1 | tail -n 1)
	say "one client run of $PER_CONN requests: max RSS $c KiB"
	for p in $A $S $P; do kill "$p"; wait "$p" ||
		fail "process $p did not exit 0 on SIGTERM"; done
}

# --- valgrind memcheck -----------------------------------------------------
soak_valgrind() {
	command -v valgrind >/dev/null ||
		{ fail "valgrind not installed"; return; }
	d=$T/vg
	# The programs under valgrind run as valgrind's tool: that is the
	# executable the agent sees, given the server's identity (the
	# client checks only the proxy's ID, the server only the token's
	# audience).
	valgrind --tool=memcheck sleep 10 > /dev/null 2>&1 &
	vp=$!
	sleep 1
	VG_EXE=$(readlink "/proc/$vp/exe")
	kill $vp
	wait $vp 2>/dev/null
	setup "$d"
	VG="valgrind --leak-check=full --error-exitcode=1 \
--show-leak-kinds=definite,indirect,possible \
--errors-for-leak-kinds=definite,indirect,possible --num-callers=30"
	start agent "$d/agent.log" $VG --log-file="$d/vg.agent" "$AGENT" run \
		-dataDir "$d/data" -socketPath "$d/agent.sock"
	A=$PID
	wait_text "$d/agent.log" 'msg="Serving the Workload API"' 120 ||
		{ fail "agent did not start under valgrind"; return; }
	start server "$d/server.log" env \
		SPIFFE_ENDPOINT_SOCKET=unix://$d/agent.sock $VG \
		--log-file="$d/vg.server" "$SERVER" -listen 127.0.0.1:0
	S=$PID
	SP=$(serving "$d/server.log") || { fail "server"; return; }
	start proxy "$d/proxy.log" env \
		SPIFFE_ENDPOINT_SOCKET=unix://$d/agent.sock $VG \
		--log-file="$d/vg.proxy" "$PROXY" -listen 127.0.0.1:0 \
		-upstream "https://localhost:$SP"
	P=$PID
	PP=$(serving "$d/proxy.log") || { fail "proxy"; return; }
	runs=$((VG_REQUESTS / PER_CONN))
	say "valgrind: $VG_REQUESTS requests, $runs client runs of $PER_CONN"
	t0=$(date +%s)
	# The first and the last client run under valgrind too.
	PARALLEL=1 clients "$d/agent.sock" "$PP" 1 "$d" $VG \
		--log-file="$d/vg.client1" || fail "client under valgrind (1)"
	clients "$d/agent.sock" "$PP" $((runs - 2)) "$d" ||
		fail "a client failed under the valgrind'ed servers"
	PARALLEL=1 clients "$d/agent.sock" "$PP" 1 "$d" $VG \
		--log-file="$d/vg.client2" || fail "client under valgrind (2)"
	say "valgrind run: $(( $(date +%s) - t0 )) s"
	for x in "proxy $P" "server $S" "agent $A"; do
		set -- $x
		kill "$2"
		wait "$2"
		rc=$?
		[ $rc -eq 0 ] || fail "$1 under valgrind exited $rc"
	done
	for f in agent server proxy client1 client2; do
		errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' \
			"$d/vg.$f" | tail -n 1)
		leak=$(grep -E '(definitely|indirectly|possibly) lost: [1-9]' \
			"$d/vg.$f" | sed 's/^==[0-9]*== *//' | tr '\n' ';')
		heap=$(sed -n 's/.*in use at exit: \(.*\)$/\1/p' "$d/vg.$f" |
			tail -n 1)
		say "valgrind $f: ${errs:-?} errors; ${leak:-no leaks}" \
			"(in use at exit: ${heap:-?})"
		[ "${errs:-1}" = 0 ] && [ -z "$leak" ] || {
			fail "valgrind $f"
			grep -A20 -E 'Invalid|uninitialised|lost in' \
				"$d/vg.$f" | head -n 60
		}
	done
}

case $mode in
rss) soak_rss ;;
valgrind) soak_valgrind ;;
all) soak_rss; soak_valgrind ;;
*) echo "usage: soak.sh BUILD_DIR [rss|valgrind|all]"; exit 2 ;;
esac
if [ $bad -eq 0 ]; then echo "SOAK PASS"; else echo "SOAK FAIL"; fi
exit $bad
