# lib.sh - helpers for the shell integration tests (sourced).
#
# Each check passes or fails one case; `finish` prints the RESULT line
# test/run.sh adds up.  Cases print "FAIL name: why" on failure.
T_PASS=0
T_FAIL=0
T_SKIP=0

pass() { T_PASS=$((T_PASS + 1)); }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $1: $2"; }
skip() { T_SKIP=$((T_SKIP + 1)); echo "SKIP $1: $2"; }

# expect_eq NAME GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then pass; else fail "$1" "got '$2', want '$3'"; fi
}

# expect_contains NAME TEXT NEEDLE
expect_contains() {
	case "$2" in
	*"$3"*) pass ;;
	*) fail "$1" "'$3' not found in: $(printf '%s' "$2" | head -c 600)" ;;
	esac
}

# expect_file_contains NAME FILE NEEDLE
expect_file_contains() {
	if grep -qF -- "$3" "$2" 2>/dev/null; then pass; else
		fail "$1" "'$3' not in $2: $(tail -n 5 "$2" 2>/dev/null)"
	fi
}

# https_port LOG TRIES: waits up to TRIES x 50 ms for LOG's "Serving HTTPS
# on port N" line; prints N (nothing if it never came).
https_port() {
	_i=0
	while [ "$_i" -lt "$2" ]; do
		_p=$(sed -n 's/.* Serving HTTPS on port \([0-9]*\).*/\1/p' \
			"$1" 2>/dev/null | head -n 1)
		[ -n "$_p" ] && { echo "$_p"; return 0; }
		sleep 0.05
		_i=$((_i + 1))
	done
}

finish() { echo "RESULT $T_PASS $T_FAIL $T_SKIP"; [ "$T_FAIL" -eq 0 ]; }

# The Debian python (with python3-grpcio, -cryptography, -jwt).
PY=/usr/bin/python3
