#!/bin/sh
# cli_test.sh - the spiffe command line.  The offline commands run on
# the independent vectors in test/data/ (made by python3-cryptography,
# python3-jwt and openssl; test/data/cli/ lists what each must give), the
# Workload API commands against python3-grpcio's fake Workload API
# (test/wlapi/fake_workload_api.py) and against spiffe-agent.
#
#   sh test/cli_test.sh BUILD_DIR
. test/lib.sh
b=${1:-build}
S=$b/spiffe
T=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

J=test/data/jwtsvid
BD=test/data/bundle
X=test/data/x509svid
AUD=spiffe://example.org/server
JWT_NOW=1767225600     # gen_jwt_vectors.py's NOW
X509_NOW=1780272000    # 2026-06-01, inside gen_x509_vectors.py's windows
WARN='^spiffe: warning: the clock reads'

# run ARGS...: runs spiffe with no input; sets rc, out (stdout) and err
# (stderr without the SPIFFE_TEST_NOW warning).
run() {
	"$S" "$@" > "$T/out" 2> "$T/err" < /dev/null
	rc=$?
	out=$(cat "$T/out")
	err=$(grep -v "$WARN" "$T/err")
}

# run_in FILE ARGS...: the same with FILE as standard input.
run_in() {
	f=$1
	shift
	"$S" "$@" > "$T/out" 2> "$T/err" < "$f"
	rc=$?
	out=$(cat "$T/out")
	err=$(grep -v "$WARN" "$T/err")
}

# outcome NAME RC ERR [OUT]: the last run exited RC with exactly ERR on
# stderr (and OUT on stdout, if given).  One case.
outcome() {
	if [ "$rc" != "$2" ] || [ "$err" != "$3" ] ||
	    { [ $# -ge 4 ] && [ "$out" != "$4" ]; }; then
		fail "$1" "exit $rc, stderr '$err', stdout '$(printf '%s' \
"$out" | head -c 300)'; want exit $2, stderr '$3'${4+, stdout '$4'}"
	else
		pass
	fi
}

# json NAME PYEXPR WANT: PYEXPR over the last stdout parsed as JSON (d)
# prints WANT.
json() {
	got=$(printf '%s' "$out" | $PY -c "import json, sys
d = json.load(sys.stdin)
r = ($2)
print(r)" 2>&1)
	expect_eq "$1" "$got" "$3"
}

# tok FILE: TOK is the token in FILE exactly, trailing newline included.
tok() {
	TOK=$(cat "$1"; echo x)
	TOK=${TOK%x}
}

# --- usage --------------------------------------------------------------
run
outcome "no command" 2 'spiffe: no command given (see spiffe -h)' ""
run -h
outcome "-h" 0 ""
full=$out
expect_eq "-h first line" "$(printf '%s\n' "$out" | head -n 1)" \
	'Usage: spiffe COMMAND [flags] [arguments]'
run api
outcome "group without command" 2 'spiffe: "api" needs a subcommand: api'\
' fetch x509, api fetch jwt, api fetch jwt-bundles, api fetch x509-bundles,'\
' api validate jwt, api watch (see spiffe -h)' ""
run api fetch jwtx
outcome "unknown subcommand" 2 \
	'spiffe: unknown command "api fetch jwtx" (see spiffe -h)' ""
run frobnicate
outcome "unknown command" 2 \
	'spiffe: unknown command "frobnicate" (see spiffe -h)'
run id parse -nope spiffe://a/b
outcome "unknown flag" 2 'spiffe: id parse: flag provided but not defined:'\
' -nope (see spiffe id parse -h)'
run id parse
outcome "missing argument" 2 \
	'spiffe: id parse: missing argument STRING (see spiffe id parse -h)'
run id parse spiffe://a/b spiffe://a/c
outcome "extra argument" 2 'spiffe: id parse: unexpected argument'\
' "spiffe://a/c" (see spiffe id parse -h)'
run id parse -output yaml spiffe://a/b
outcome "bad -output" 2 \
	'spiffe: invalid value "yaml" for flag -output (want pretty or json)'
run jwt validate -audience a -bundle x
outcome "required flag" 2 'spiffe: jwt validate: flag -token is required'\
' (see spiffe jwt validate -h)'
run jwt validate -token a -token b
outcome "flag twice" 2 'spiffe: jwt validate: flag -token given twice'\
' (see spiffe jwt validate -h)'

# Every command's -h names each of its flags, and spiffe -h all of them.
while IFS=: read -r cmd flags; do
	run $cmd -h
	for f in $flags; do
		expect_contains "$cmd -h: -$f" "$out" "  -$f"
		expect_contains "spiffe -h: $cmd -$f" "$full" "  -$f"
	done
	expect_contains "spiffe -h: $cmd" "$full" "Usage: spiffe $cmd "
	expect_eq "$cmd -h exit" "$rc" 0
done <<EOF
api fetch x509:write silent socketPath timeout output
api fetch jwt:audience spiffeID socketPath timeout output
api fetch jwt-bundles:socketPath timeout output
api fetch x509-bundles:socketPath timeout output
api validate jwt:audience svid socketPath timeout output
api watch:socketPath output
id parse:output
jwt inspect:output
jwt validate:token audience bundle bundleFormat trustDomain output
x509 verify:chain bundle bundleFormat id memberOf output
bundle inspect:format output
EOF

# --- id parse -----------------------------------------------------------
run id parse spiffe://example.org/a/b
outcome "id parse" 0 "" "$(printf 'SPIFFE ID:\tspiffe://example.org/a/b
Trust domain:\texample.org\nPath:\t\t/a/b')"
run id parse -output json spiffe://example.org
outcome "id parse root json" 0 ""
json "id parse root json fields" 'json.dumps(d, sort_keys=True)' \
	'{"path": "", "spiffe_id": "spiffe://example.org",'\
' "trust_domain": "example.org"}'
run id parse spiffe://td:443/x
outcome "id parse port" 1 'spiffe: invalid SPIFFE ID: trust domain'\
' characters are limited to lowercase letters, numbers, dots, dashes, and'\
' underscores: found '"':'"' (port not allowed) at offset 11 in'\
' "spiffe://td:443/x"' ""
run id parse SPIFFE://example.org/a
outcome "id parse uppercase scheme" 1 'spiffe: invalid SPIFFE ID: scheme'\
' is missing or invalid: scheme must be lowercase "spiffe://" in'\
' "SPIFFE://example.org/a"' ""
run id parse "$(printf 'spiffe://example.org/a\033[2J')"
outcome "id parse escapes controls" 1 'spiffe: invalid SPIFFE ID: path'\
' segment characters are limited to letters, numbers, dots, dashes, and'\
' underscores: found byte 0x1b at offset 22 in'\
' "spiffe://example.org/a\x1b[2J"' ""

# --- jwt validate: every vector, then the command's own rules -------------
export SPIFFE_TEST_NOW=$JWT_NOW
grep -v '^#' test/data/cli/jwt-validate.txt > "$T/jv"
n=0
while IFS='|' read -r name code msg hint; do
	n=$((n + 1))
	if [ "$name" = empty ]; then   # "" is no -token value: use stdin
		run_in "$J/empty.jwt" jwt validate -token - -audience "$AUD" \
			-bundle "$BD/jwks-valid.json" -trustDomain example.org
	else
		tok "$J/$name.jwt"
		run jwt validate -token "$TOK" \
			-audience "$AUD" -bundle "$BD/jwks-valid.json" \
			-trustDomain example.org
	fi
	if [ "$code" = 0 ]; then
		outcome "jwt validate $name" 0 "" spiffe://example.org/client
	else
		outcome "jwt validate $name" "$code" \
			"spiffe: JWT-SVID is not valid: $msg$hint" ""
	fi
done < "$T/jv"
expect_eq "jwt validate: every vector listed" "$n" \
	"$(ls "$J"/*.jwt | wc -l)"

# The bundle is sub's trust domain's unless -trustDomain says otherwise.
run jwt validate -token "$(cat "$J/sub-other-td.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-other-td.json"
outcome "jwt validate other td's bundle" 1 'spiffe: JWT-SVID is not valid:'\
' no JWT authority "ec256" found for trust domain "other.org"' ""
run jwt validate -token "$(cat "$J/sub-other-td.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate: file is sub's bundle" 0 "" spiffe://other.org/client
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json" -trustDomain other.org
outcome "jwt validate -trustDomain elsewhere" 1 'spiffe: JWT-SVID is not'\
' valid: no bundle found for trust domain "example.org"' ""
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience "$AUD" \
	-bundle "$BD/spiffe-valid.json"
outcome "jwt validate SPIFFE bundle" 0 "" spiffe://example.org/client
run jwt validate -token "$(cat "$J/aud-multi-valid.jwt")" \
	-audience a,spiffe://example.org/other -bundle "$BD/jwks-no-use.json"
outcome "jwt validate audience list" 0 "" spiffe://example.org/client
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience a,b \
	-audience c -bundle "$BD/jwks-valid.json"
outcome "jwt validate no audience matches" 1 'spiffe: JWT-SVID is not'\
' valid: expected audience in ["a" "b" "c"] (audience=["'"$AUD"'"])' ""
# Standard input: one final newline (as echo writes) is dropped.
run_in "$J/trailing-newline.jwt" jwt validate -token - -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate stdin newline" 0 "" spiffe://example.org/client
{ cat "$J/es256-valid.jwt"; printf '\n\n'; } > "$T/two-newlines"
run_in "$T/two-newlines" jwt validate -token - -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate stdin two newlines" 1 'spiffe: JWT-SVID is not valid:'\
' unable to parse JWT token: signature is not canonical unpadded'\
' base64url (the token has whitespace at byte '"$(wc -c < \
	"$J/es256-valid.jwt")"'; give it alone, on one line)' ""
tok "$J/es256-valid.jwt"
run jwt validate -token "Bearer $TOK" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate Bearer pasted" 1 'spiffe: JWT-SVID is not valid:'\
' unable to parse JWT token: header is not canonical unpadded base64url'\
' (give the token without "Bearer ")' ""
run jwt inspect "$J/es256-valid.jwt"
outcome "jwt inspect a file name" 1 'spiffe: not a valid JWT-SVID: unable to'\
' parse JWT token: compact serialization has 2 parts, expected 3 (this'\
' names a file: to read the token from it, give - and redirect the file'\
' to standard input)' ""
run_in "$J/es384-valid.jwt" jwt validate -token - -audience "$AUD" \
	-bundle "$BD/jwks-valid.json" -output json
outcome "jwt validate json" 0 ""
json "jwt validate json fields" \
	'd["spiffe_id"], d["header"], sorted(d["claims"].items())' \
	"('spiffe://example.org/client', {'alg': 'ES384', 'kid': 'ec384',\
 'typ': 'JWT'}, [('aud', ['$AUD']), ('exp', $((JWT_NOW + 3600))),\
 ('iat', $JWT_NOW), ('sub', 'spiffe://example.org/client')])"
# Bundle files that cannot serve are usage/I-O errors (2), not verdicts.
run jwt validate -token - -audience a -bundle -
outcome "jwt validate stdin twice" 2 \
	'spiffe: -token and -bundle cannot both read standard input' ""
run jwt validate -token x -audience a -bundle "$T/nonexistent"
outcome "jwt validate no bundle file" 2 \
	"spiffe: cannot read $T/nonexistent: No such file or directory" ""
run jwt validate -token x -audience a -bundle "$BD/jwks-duplicate-kid.json"
outcome "jwt validate bad bundle" 2 "spiffe: bundle $BD/jwks-duplicate-kid"\
'.json: jwtbundle: error adding authority 1 of JWKS: duplicate key ID "k"' ""
run jwt validate -token x -audience a -bundle "$X/root-ca.pem"
outcome "jwt validate PEM bundle" 2 "spiffe: bundle $X/root-ca.pem: a"\
' bundle in PEM certificates has no JWT authorities' ""
run jwt validate -token x -audience a -bundle "$X/root-ca.pem" \
	-bundleFormat pem
outcome "jwt validate -bundleFormat pem" 2 'spiffe: invalid value "pem"'\
' for flag -bundleFormat (want auto, jwks or spiffe)' ""
run jwt validate -token x -audience a -bundle "$BD/jwks-valid.json" \
	-trustDomain 'Example.org'
outcome "jwt validate bad -trustDomain" 2 'spiffe: invalid value for flag'\
' -trustDomain: trust domain characters are limited to lowercase letters,'\
' numbers, dots, dashes, and underscores: found '"'E'"' (uppercase not'\
' allowed) at offset 0 in "Example.org"' ""
head -c $((3 * 1024 * 1024)) /dev/zero > "$T/big"
run_in "$T/big" jwt validate -token - -audience a \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate stdin bound" 2 'spiffe: standard input is 3145728'\
' bytes, larger than the limit of 2097152 bytes' ""
run_in /dev/zero jwt validate -token - -audience a \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate endless stdin" 2 'spiffe: standard input is larger'\
' than the limit of 2097152 bytes' ""
run jwt validate -token x -audience a -bundle "$T/big"
outcome "jwt validate bundle bound" 2 "spiffe: $T/big is 3145728 bytes,"\
' larger than the limit of 2097152 bytes' ""
# The test hook is what makes the 2026-01-01 token valid.
SPIFFE_TEST_NOW=
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate empty SPIFFE_TEST_NOW" 2 \
	'spiffe: SPIFFE_TEST_NOW must be Unix seconds, not ""' ""
SPIFFE_TEST_NOW=-5
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate negative SPIFFE_TEST_NOW" 2 \
	'spiffe: SPIFFE_TEST_NOW must be Unix seconds, not "-5"' ""
unset SPIFFE_TEST_NOW
run jwt validate -token "$(cat "$J/es256-valid.jwt")" -audience "$AUD" \
	-bundle "$BD/jwks-valid.json"
outcome "jwt validate real clock" 1 \
	'spiffe: JWT-SVID is not valid: token has expired' ""
expect_eq "no warning without the hook" "$(cat "$T/err")" "$err"
export SPIFFE_TEST_NOW=$JWT_NOW
run id parse spiffe://a/b
expect_eq "no hook warning where the clock is unused" "$(cat "$T/err")" ""
run jwt inspect "$(cat "$J/es256-valid.jwt")"
expect_eq "hook warning" "$(cat "$T/err")" "spiffe: warning: the clock reads"\
" $JWT_NOW, as SPIFFE_TEST_NOW (a test hook) says"

# --- jwt inspect ----------------------------------------------------------
run jwt inspect "$(cat "$J/extra-claims-valid.jwt")"
outcome "jwt inspect" 0 "" "$(printf '%s\n' \
'NOT VERIFIED: this token'"'"'s signature, audience and times were'\
' not checked.' \
'Header:		{"alg":"ES256","kid":"ec256"}' \
'Claims:		{"sub":"spiffe://example.org/client","aud":'\
'["spiffe://example.org/server"],"exp":1767229200,"iat":1767225600,'\
'"iss":"https://issuer.example","jti":"abc","custom":{"a":[1,2]},'\
'"nbf":1767225540}' \
'SPIFFE ID:	spiffe://example.org/client' \
'Audience:	spiffe://example.org/server' \
'Algorithm:	ES256' \
'Key ID:		ec256' \
'Issued at:	2026-01-01 00:00:00 +0000 UTC (1767225600)' \
'Not before:	2025-12-31 23:59:00 +0000 UTC (1767225540)' \
'Expires at:	2026-01-01 01:00:00 +0000 UTC (1767229200)')"
run_in "$J/expired.jwt" jwt inspect -
outcome "jwt inspect expired" 0 ""
expect_eq "jwt inspect says expired" "$(printf '%s\n' "$out" | tail -n 1)" \
	"The token has expired."
run_in "$J/aud-multi-valid.jwt" jwt inspect -output json -
outcome "jwt inspect json" 0 ""
json "jwt inspect json fields" \
	'd["verified"], d["spiffe_id"], d["header"], d["claims"]["aud"]' \
	"(False, 'spiffe://example.org/client', {'alg': 'ES256',\
 'kid': 'ec256'}, ['spiffe://example.org/other', '$AUD', 'x'])"
run jwt inspect "$(cat "$J/extra-header.jwt")"
outcome "jwt inspect non-SVID" 1 'spiffe: not a valid JWT-SVID: unable to'\
' parse JWT token: header parameter "cty" is not allowed in a JWT-SVID'\
' (only alg, kid, typ)'
expect_eq "jwt inspect shows what decodes" "$(printf '%s\n' "$out" |
	head -n 1)" 'Header:		{"alg":"ES256","kid":"ec256",'\
'"typ":"JWT","cty":"JWT"}'
run jwt inspect -output json "$(cat "$J/extra-header.jwt")"
outcome "jwt inspect json non-SVID" 1 'spiffe: not a valid JWT-SVID: unable'\
' to parse JWT token: header parameter "cty" is not allowed in a JWT-SVID'\
' (only alg, kid, typ)' ""
run jwt inspect not-a-token
outcome "jwt inspect garbage" 1 'spiffe: not a valid JWT-SVID: unable to'\
' parse JWT token: compact serialization has 1 part, expected 3' ""
# A claim holding terminal controls (ESC as \u001b, and a raw C1 CSI,
# U+009B) is shown escaped.
if $PY -c 'import cryptography' 2>/dev/null; then
	$PY - "$J/keys/ec256.pem" > "$T/c1.jwt" <<'EOF'
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import \
    decode_dss_signature
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(),
                                         None)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h = b64(b'{"alg":"ES256","kid":"ec256"}')
c = b64(json.dumps({"sub": "spiffe://example.org/c", "aud": "a",
                    "exp": 1767229200, "x": "\x1b[2J\x9b2J"},
                   ensure_ascii=False).encode())
r, s = decode_dss_signature(key.sign((h + "." + c).encode(),
                                     ec.ECDSA(hashes.SHA256())))
sys.stdout.write(h + "." + c + "." +
                 b64(r.to_bytes(32, "big") + s.to_bytes(32, "big")))
EOF
	run_in "$T/c1.jwt" jwt inspect -
	expect_contains "jwt inspect escapes controls" "$out" \
		'"x": "\u001b[2J\xc2\x9b2J"}'
	run_in "$T/c1.jwt" jwt inspect -output json -
	json "jwt inspect json keeps the claim" 'repr(d["claims"]["x"])' \
		"'\\x1b[2J\\x9b2J'"
else
	skip "jwt inspect escapes controls" "needs python3-cryptography"
fi

# --- x509 verify: every vector, then the command's own rules --------------
export SPIFFE_TEST_NOW=$X509_NOW
grep -v '^#' test/data/cli/x509-verify.txt > "$T/xv"
n=0
while IFS='|' read -r file code msg; do
	n=$((n + 1))
	run x509 verify -chain "$X/$file" -bundle "$X/root-ca.pem"
	if [ "$code" = 0 ]; then
		outcome "x509 verify $file" 0 "" spiffe://example.org/workload
	else
		outcome "x509 verify $file" "$code" \
			"spiffe: X.509-SVID is not valid: $msg" ""
	fi
done < "$T/xv"
expect_eq "x509 verify: table read" "$n" 31
run x509 verify -chain "$X/leaf-unknown-critical-ext.pem" \
	-bundle "$X/root-ca.pem"
outcome "x509 verify unparsable" 1 'spiffe: X.509-SVID is not valid:'\
' x509svid: cannot parse PEM encoded certificate 0: X509 - The extension'\
' tag or value is invalid : ASN1 - ASN1 tag was of an unexpected value'\
' (-0x2562)' ""
run x509 verify -chain "$X/good-leaf.der" -bundle "$X/bundle.der"
outcome "x509 verify DER chain, DER bundle" 0 "" \
	spiffe://example.org/workload
run x509 verify -chain "$X/good-leaf-next-root.pem" -bundle "$X/root-ca.pem"
outcome "x509 verify other root" 1 'spiffe: X.509-SVID is not valid:'\
' x509svid: could not verify leaf certificate: certificate signed by'\
' unknown authority' ""
run x509 verify -chain "$X/other-td.pem" -bundle "$X/other-td-root-ca.pem"
outcome "x509 verify leaf's own td" 0 "" spiffe://other.org/workload
run x509 verify -chain "$X/good-chain.pem" -bundle "$X/root-ca.pem" \
	-output json
outcome "x509 verify json" 0 ""
json "x509 verify json fields" 'json.dumps(d, sort_keys=True)' \
	'{"expires_at": "2036-01-01T00:00:00Z", "path_length": 3,'\
' "spiffe_id": "spiffe://example.org/workload",'\
' "trust_domain": "example.org"}'
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-id spiffe://example.org/workload
outcome "x509 verify -id" 0 "" spiffe://example.org/workload
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-id spiffe://example.org/other
outcome "x509 verify -id mismatch" 1 'spiffe: X.509-SVID is not valid:'\
' unexpected ID "spiffe://example.org/workload" (want "spiffe://example.org/other")' ""
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-memberOf example.org
outcome "x509 verify -memberOf" 0 "" spiffe://example.org/workload
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-memberOf other.org
outcome "x509 verify -memberOf elsewhere" 1 'spiffe: X.509-SVID is not'\
' valid: x509svid: could not get X509 bundle: x509bundle: no X.509 bundle'\
' for trust domain "example.org" (the bundle is for "other.org")' ""
# other.org's leaf signed by a CA in example.org's bundle: with the file
# named example.org's, refused.
run x509 verify -chain "$X/other-td.pem" -bundle "$X/root-ca.pem" \
	-memberOf example.org
outcome "x509 verify foreign leaf" 1 'spiffe: X.509-SVID is not valid:'\
' x509svid: could not get X509 bundle: x509bundle: no X.509 bundle for'\
' trust domain "other.org" (the bundle is for "example.org")' ""
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-memberOf example.org -id spiffe://example.org/workload
outcome "x509 verify -id and -memberOf" 2 \
	'spiffe: -id and -memberOf exclude each other' ""
run x509 verify -chain "$X/good-leaf.pem" -bundle "$X/root-ca.pem" \
	-id example.org
outcome "x509 verify bad -id" 2 'spiffe: invalid value for flag -id:'\
' scheme is missing or invalid: expected "spiffe://" in "example.org"' ""
run x509 verify -chain "$BD/jwks-valid.json" -bundle "$X/root-ca.pem"
outcome "x509 verify chain not certificates" 1 'spiffe: X.509-SVID is not'\
' valid: x509svid: cannot parse DER encoded certificate 0: not a DER'\
' SEQUENCE within the input (at byte 0)' ""
run x509 verify -chain "$X/good-leaf.pem" -bundle "$BD/jwks-valid.json" \
	-bundleFormat jwks
outcome "x509 verify -bundleFormat jwks" 2 'spiffe: invalid value "jwks"'\
' for flag -bundleFormat (want auto, spiffe, pem or der)' ""
run x509 verify -chain "$X/good-leaf.pem" -bundle "$BD/jwks-no-use.json"
outcome "x509 verify JSON bundle is SPIFFE" 2 "spiffe: bundle"\
" $BD/jwks-no-use.json: no X.509 authorities in the SPIFFE bundle" ""
run jwt validate -token x -audience a -bundle "$BD/jwks-oct.json"
outcome "jwt validate empty JWKS" 2 "spiffe: bundle $BD/jwks-oct.json: no"\
" JWT authorities in the JWKS" ""
run_in "$X/good-leaf.pem" x509 verify -chain - -bundle "$X/root-ca.pem"
outcome "x509 verify chain from stdin" 0 "" spiffe://example.org/workload
run_in "$X/root-ca.pem" x509 verify -chain "$X/good-leaf.pem" -bundle -
outcome "x509 verify bundle from stdin" 0 "" spiffe://example.org/workload
run x509 verify -chain - -bundle -
outcome "x509 verify stdin twice" 2 \
	'spiffe: -chain and -bundle cannot both read standard input' ""
run x509 verify -chain "$T/nonexistent" -bundle "$X/root-ca.pem"
outcome "x509 verify no chain file" 2 \
	"spiffe: cannot read $T/nonexistent: No such file or directory" ""

# --- bundle inspect: every vector, then detection -----------------------
grep -v '^#' test/data/cli/bundle-inspect.txt > "$T/bv"
n=0
while IFS='|' read -r form file code njwt nx509 msg; do
	n=$((n + 1))
	run bundle inspect -format "$form" -output json "$BD/$file"
	if [ "$code" = 0 ]; then
		outcome "bundle inspect $file" 0 ""
		json "bundle inspect $file counts" \
		    'd["format"], len(d["jwt_authorities"]),
		    len(d["x509_authorities"])' \
		    "('$form', $njwt, $nx509)"
	else
		outcome "bundle inspect $file" "$code" \
			"spiffe: bundle is not valid: $msg" ""
	fi
done < "$T/bv"
expect_eq "bundle inspect: table read" "$n" 56
for c in jwks-valid.json:spiffe jwks-no-use.json:jwks \
    spiffe-valid.json:spiffe spiffe-keys-null.json:jwks \
    "$X/root-ca.pem:pem" "$X/root-ca.der:der" "$X/bundle.der:der"; do
	f=${c%:*}
	case $f in */*) ;; *) f=$BD/$f ;; esac
	run bundle inspect -output json "$f"
	json "bundle inspect detects ${c##*:} in $f" 'd["format"]' "${c##*:}"
done
run_in "$BD/spiffe-valid.json" bundle inspect -output json -
json "bundle inspect stdin" 'json.dumps(d, sort_keys=True)' \
	"$($PY -c 'import json, sys
d = {"format": "spiffe", "sequence": 42, "refresh_hint": 300,
     "jwt_authorities": [{"kid": "ec256", "key_type": "EC P-256"},
                         {"kid": "rsa2048", "key_type": "RSA-2048"}]}
from cryptography import x509
import base64
b = json.load(open(sys.argv[1]))
d["x509_authorities"] = []
for k in b["keys"]:
    if k.get("use") != "x509-svid":
        continue
    c = x509.load_der_x509_certificate(base64.b64decode(k["x5c"][0]))
    d["x509_authorities"].append({
        "subject": "O=SPIFFE, CN=" + c.subject.get_attributes_for_oid(
            x509.oid.NameOID.COMMON_NAME)[0].value,
        "serial": "%x" % c.serial_number,
        "not_before": c.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": c.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")})
print(json.dumps(d, sort_keys=True))' "$BD/spiffe-valid.json" 2>/dev/null)"
run bundle inspect "$X/bundle.der"
outcome "bundle inspect pretty" 0 "" "$(printf '%s\n' \
	'Format:			DER certificates' \
	'X.509 authorities:	2' \
	'CA #1 Valid After:	2025-01-01 00:00:00 +0000 UTC' \
	'CA #1 Valid Until:	2036-01-01 00:00:00 +0000 UTC' \
	'CA #2 Valid After:	2025-01-01 00:00:00 +0000 UTC' \
	'CA #2 Valid Until:	2036-01-01 00:00:00 +0000 UTC' \
	'JWT authorities:	0')"
run bundle inspect "$BD/spiffe-duplicate-member.json"
outcome "bundle inspect bad JSON" 1 'spiffe: bundle is not valid: not valid'\
' JSON: duplicate member name "spiffe_sequence" at offset 31' ""
printf '{"spiffe_refresh_hint": 300}' > "$T/nokeys.json"
run bundle inspect "$T/nokeys.json"
outcome "bundle inspect without keys" 1 'spiffe: bundle is not valid: not a'\
' JWKS or a SPIFFE bundle: no "keys" member' ""
printf '{"bundles": {"example.org": {"keys": []}}}' > "$T/fetched.json"
run jwt validate -token a.b.c -audience x -bundle "$T/fetched.json"
outcome "jwt validate with fetched JSON" 2 "spiffe: bundle $T/fetched.json:"\
' not a JWKS or a SPIFFE bundle: no "keys" member (for the output of'\
' `spiffe api fetch jwt-bundles -output json`, take one trust domain'"'"'s'\
' value of "bundles")' ""
run bundle inspect -format jwks "$T/fetched.json"
outcome "bundle inspect -format jwks without keys" 0 "" "$(printf '%s\n' \
	'Format:			JWKS' 'X.509 authorities:	0' 'JWT authorities:	0')"
run bundle inspect -format yaml "$BD/jwks-valid.json"
outcome "bundle inspect bad -format" 2 'spiffe: invalid value "yaml" for'\
' flag -format (want auto, jwks, spiffe, pem or der)' ""
unset SPIFFE_TEST_NOW

# --- the Workload API ----------------------------------------------------
# start NAME ARGS...: a fake Workload API on $T/NAME.sock, state in $T/NAME.
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

# wait_for FILE TEXT [COUNT]: until FILE holds COUNT (1) lines with TEXT
# (or 10 s pass).  FILE may not exist yet.
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		c=$(grep -cF -- "$2" "$1" 2>/dev/null)
		[ "${c:-0}" -ge "${3:-1}" ] && break
		sleep 0.1
		i=$((i + 1))
	done
}

# cert FILE N EXPR: EXPR about the N-th certificate (c) of PEM FILE, with
# go() and iso() formatting times as SPIRE's text and our JSON do.
cert() {
	$PY - "$1" "$2" "$3" <<'PYEOF'
import sys
from cryptography import x509
pem = open(sys.argv[1], "rb").read()
parts = pem.split(b"-----END CERTIFICATE-----")
c = x509.load_pem_x509_certificate(parts[int(sys.argv[2])] +
                                   b"-----END CERTIFICATE-----\n")
go = lambda t: t.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
print(eval(sys.argv[3]))
PYEOF
}

if ! command -v protoc >/dev/null || ! $PY -c 'import grpc, jwt' 2>/dev/null
then
	skip api "needs protoc, python3-grpcio and python3-jwt"
	finish
	exit
fi
protoc -I proto -I /usr/include --python_out="$T" proto/workload.proto ||
	{ fail protoc "cannot generate workload_pb2"; finish; exit 1; }
start fake --hint internal --federated 2 --intermediate
F=$T/fake
export SPIFFE_ENDPOINT_SOCKET=unix://$T/fake.sock

# fetch x509: SPIRE's layout, checked against the fake's own files.
run api fetch x509
outcome "fetch x509" 0 ""
expect_eq "fetch x509 first line" "$(printf '%s\n' "$out" | head -n 1 |
	grep -cE '^Received 1 svid after [0-9]+(\.[0-9]+)?(ns|.s|ms|s)$')" 1
expect_eq "fetch x509 body" "$(printf '%s\n' "$out" | sed -n '2,13p')" \
	"$(printf '%s\n' '' \
	'SPIFFE ID:		spiffe://example.org/workload' \
	'Hint:			internal' \
	'Chain length:		2' \
	"SVID Valid After:	$(cert "$F/svid.pem" 0 \
	'go(c.not_valid_before)')" \
	"SVID Valid Until:	$(cert "$F/svid.pem" 0 \
	'go(c.not_valid_after)')" \
	"Intermediate #1 Valid After:	$(cert "$F/svid.pem" 1 \
	'go(c.not_valid_before)')" \
	"Intermediate #1 Valid Until:	$(cert "$F/svid.pem" 1 \
	'go(c.not_valid_after)')" \
	'Bundle size:		1' \
	"CA #1 Valid After:	$(cert "$F/bundle.pem" 0 \
	'go(c.not_valid_before)')" \
	"CA #1 Valid Until:	$(cert "$F/bundle.pem" 0 \
	'go(c.not_valid_after)')" \
	'[federated0.test] Bundle size:	1')"
expect_eq "fetch x509 federated" "$(printf '%s\n' "$out" |
	grep -c '^\[federated[01]\.test\] CA #1 Valid \(After\|Until\):	')" 4
run api fetch
expect_eq "fetch is fetch x509" "$(printf '%s\n' "$out" | sed -n 3p)" \
	'SPIFFE ID:		spiffe://example.org/workload'
run api fetch x509 -output json
outcome "fetch x509 json" 0 ""
json "fetch x509 json svid" '[(s["spiffe_id"], s["hint"],
	len(s["certificates"])) for s in d["svids"]]' \
	"[('spiffe://example.org/workload', 'internal', 2)]"
json "fetch x509 json leaf" 'd["svids"][0]["certificates"][0]["serial"]' \
	"$(cat "$F/serial")"
json "fetch x509 json leaf times" '[d["svids"][0]["certificates"][0][k]
	for k in ("not_before", "not_after")]' \
	"$(cert "$F/svid.pem" 0 \
	'[iso(c.not_valid_before), iso(c.not_valid_after)]')"
json "fetch x509 json bundles" \
	'[(k, len(v)) for k, v in d["bundles"].items()]' \
	"[('example.org', 1), ('federated0.test', 1), ('federated1.test', 1)]"
json "fetch x509 json root" 'd["bundles"]["example.org"][0]["serial"]' \
	"$(cert "$F/bundle.pem" 0 '"%x" % c.serial_number')"
run api fetch x509 -silent
outcome "fetch x509 -silent" 0 "" ""

# -write: SPIRE's file names, the key 0600; the files are the fake's.
mkdir "$T/w"
run api fetch x509 -write "$T/w"
outcome "fetch x509 -write" 0 ""
expect_eq "fetch x509 -write says" "$(printf '%s\n' "$out" | tail -n 5)" \
	"$(printf '%s\n' \
	"Writing SVID #0 to file $T/w/svid.0.pem." \
	"Writing key #0 to file $T/w/svid.0.key." \
	"Writing bundle #0 to file $T/w/bundle.0.pem." \
	"Writing federated bundle #0 for trust domain\
 spiffe://federated0.test to file $T/w/federated_bundle.0.0.pem." \
	"Writing federated bundle #1 for trust domain\
 spiffe://federated1.test to file $T/w/federated_bundle.0.1.pem.")"
expect_eq "written files" "$(cd "$T/w" && ls -a | tr '\n' ' ')" \
	". .. bundle.0.pem federated_bundle.0.0.pem federated_bundle.0.1.pem\
 svid.0.key svid.0.pem "
expect_eq "svid.0.key mode" "$(stat -c %a "$T/w/svid.0.key")" 600
expect_eq "svid.0.pem mode" "$(stat -c %a "$T/w/svid.0.pem")" 644
expect_eq "svid.0.pem is the chain" \
	"$(cmp "$T/w/svid.0.pem" "$F/svid.pem" && echo same)" same
expect_eq "bundle.0.pem is the bundle" \
	"$(cmp "$T/w/bundle.0.pem" "$F/bundle.pem" && echo same)" same
expect_eq "svid.0.key is the key" \
	"$(openssl pkey -in "$T/w/svid.0.key" -pubout 2>&1)" \
	"$(openssl pkey -in "$F/key.pem" -pubout 2>&1)"
expect_eq "federated bundle is a CA of its td" "$(cert \
	"$T/w/federated_bundle.0.1.pem" 0 'c.subject.rfc4514_string()')" \
	CN=federated1.test
run x509 verify -chain "$T/w/svid.0.pem" -bundle "$T/w/bundle.0.pem"
outcome "written SVID verifies" 0 "" spiffe://example.org/workload
run api fetch x509 -write "$T/w" -silent
outcome "fetch x509 -write -silent" 0 "" ""
run api fetch x509 -write "$T/nodir"
outcome "fetch x509 -write nowhere" 2 \
	"spiffe: cannot write $T/nodir/svid.0.pem: No such file or\
 directory" ""

# fetch jwt: the token verifies with python3-jwt and the fake's key.
run api fetch jwt -audience a,b
outcome "fetch jwt" 0 ""
token=$(printf '%s\n' "$out" | sed -n 2p | tr -d '\t')
expect_eq "fetch jwt layout" "$(printf '%s\n' "$out" | sed -e 2d)" \
	"$(printf '%s\n' 'token(spiffe://example.org/workload):' \
	'hint(spiffe://example.org/workload):' '	internal' \
	'bundle(spiffe://example.org):')
	$($PY -c 'import json, sys
k = json.load(open(sys.argv[1]))["keys"][0]
print(json.dumps({"keys": [{"kty": k["kty"], "crv": k["crv"], "x": k["x"],
      "y": k["y"], "kid": k["kid"], "use": "jwt-svid"}]},
      separators=(",", ":")))' "$F/jwks.json")"
expect_eq "fetch jwt token verifies" "$($PY -c 'import jwt, sys
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
c = jwt.decode(sys.argv[2], k.public_key(), algorithms=["ES256"],
               audience="b")
print(c["sub"], c["aud"], c["exp"] - c["iat"])' "$F/jwt-key.pem" "$token" \
	2>&1)" "spiffe://example.org/workload ['a', 'b'] 300"
run api fetch jwt -audience spiffe://example.org/server -output json
outcome "fetch jwt json" 0 ""
json "fetch jwt json svid" \
	'[(s["spiffe_id"], s["hint"], s["audience"]) for s in d["svids"]]' \
	"[('spiffe://example.org/workload', 'internal',\
 ['spiffe://example.org/server'])]"
token=$(printf '%s' "$out" | $PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["token"])')
json "fetch jwt json expiry" 'd["svids"][0]["expires_at"]' "$($PY -c '
import jwt, sys, time
c = jwt.decode(sys.argv[1], options={"verify_signature": False})
print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c["exp"])))' "$token")"
json "fetch jwt json bundle" \
	'json.dumps(d["bundles"]["example.org"]["keys"][0], sort_keys=True)' \
	"$($PY -c 'import json, sys
k = json.load(open(sys.argv[1]))["keys"][0]
k["use"] = "jwt-svid"
print(json.dumps(k, sort_keys=True))' "$F/jwks.json")"
run jwt validate -token "$token" -audience spiffe://example.org/server \
	-bundle "$F/jwks.json"
outcome "fetched token validates offline" 0 "" spiffe://example.org/workload
run api fetch jwt -audience a -spiffeID spiffe://example.org/other
outcome "fetch jwt other id" 1 'spiffe: cannot fetch JWT-SVIDs:'\
' PermissionDenied: no identity issued' ""
run api fetch jwt -audience a -spiffeID example.org
outcome "fetch jwt bad -spiffeID" 2 'spiffe: invalid value for flag'\
' -spiffeID: scheme is missing or invalid: expected "spiffe://" in'\
' "example.org"' ""
run api fetch jwt
outcome "fetch jwt no audience" 2 'spiffe: api fetch jwt: flag -audience'\
' is required (see spiffe api fetch jwt -h)' ""

# fetch jwt-bundles and x509-bundles.
run api fetch jwt-bundles -output json
outcome "fetch jwt-bundles json" 0 ""
json "fetch jwt-bundles kids" '[(t, [k["kid"] for k in b["keys"]])
	for t, b in d["bundles"].items()]' "[('example.org', ['fake-kid-1'])]"
run api fetch jwt-bundles
expect_eq "fetch jwt-bundles" "$(printf '%s\n' "$out" | head -n 1)" \
	'bundle(spiffe://example.org):'
run api fetch x509-bundles -output json
outcome "fetch x509-bundles json" 0 ""
json "fetch x509-bundles tds" 'list(d["bundles"])' \
	"['example.org', 'federated0.test', 'federated1.test']"
json "fetch x509-bundles root" 'd["bundles"]["example.org"][0]["serial"]' \
	"$(cert "$F/bundle.pem" 0 '"%x" % c.serial_number')"
run api fetch x509-bundles
outcome "fetch x509-bundles" 0 ""
expect_eq "fetch x509-bundles layout" "$(printf '%s\n' "$out" |
	sed -e 1d -e '/Valid/d')" "$(printf '%s\n' '' \
	'[example.org] Bundle size:	1' \
	'[federated0.test] Bundle size:	1' \
	'[federated1.test] Bundle size:	1')"

# validate jwt: tokens python3-jwt signs with the fake's key.
mint() { # AUDIENCE EXPIRY-IN-SECONDS
	$PY -c 'import jwt, sys, time
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
t = int(time.time())
print(jwt.encode({"sub": "spiffe://example.org/workload",
                  "aud": [sys.argv[2]], "iat": t - 10,
                  "exp": t + int(sys.argv[3]), "x": "\x1b"},
                 k, algorithm="ES256",
                 headers={"kid": "fake-kid-1", "typ": "JWT"}))' \
		"$F/jwt-key.pem" "$1" "$2"
}
good=$(mint spiffe://example.org/server 300)
run api validate jwt -audience spiffe://example.org/server -svid "$good"
outcome "validate jwt" 0 ""
expect_eq "validate jwt layout" "$(printf '%s\n' "$out" | head -n 2)" \
	"$(printf 'SVID is valid.\nSPIFFE ID : spiffe://example.org/workload')"
expect_contains "validate jwt escapes claims" "$out" '"x":"\u001b"'
printf '%s\n' "$good" > "$T/good.jwt"
run_in "$T/good.jwt" api validate jwt -audience spiffe://example.org/server \
	-svid - -output json
outcome "validate jwt json" 0 ""
json "validate jwt json fields" \
	'd["spiffe_id"], d["claims"]["aud"], d["claims"]["x"]' \
	"('spiffe://example.org/workload', ['spiffe://example.org/server'],\
 '\\x1b')"
run api validate jwt -audience spiffe://example.org/other -svid "$good"
outcome "validate jwt audience" 1 \
	'spiffe: JWT-SVID is not valid: Invalid audience' ""
run api validate jwt -audience a -svid "$(mint a -5)"
outcome "validate jwt expired" 1 \
	'spiffe: JWT-SVID is not valid: Signature has expired' ""
run api validate jwt -audience a
outcome "validate jwt no svid" 2 'spiffe: api validate jwt: flag -svid is'\
' required (see spiffe api validate jwt -h)' ""

# An agent that refuses, one that is not there, one that never answers.
kill -USR2 "$pid_fake"
sleep 0.3
run api fetch x509
outcome "refused x509" 1 'spiffe: cannot fetch X.509-SVIDs:'\
' PermissionDenied: no identity issued' ""
run api fetch jwt-bundles
outcome "refused jwt-bundles" 1 'spiffe: cannot fetch JWT bundles:'\
' PermissionDenied: no identity issued' ""
kill -USR2 "$pid_fake"
sleep 0.3
run api fetch x509 -socketPath "$T/fake.sock" -timeout 2s -silent
outcome "-socketPath bare path" 0 "" ""
run api fetch x509 -socketPath "$T/none.sock"
outcome "unreachable" 2 'spiffe: cannot fetch X.509-SVIDs: Unavailable:'\
" cannot connect to unix://$T/none.sock: No such file or directory" ""
run api fetch x509 -socketPath tcp://127.0.0.1:1
outcome "tcp address" 2 'spiffe: cannot fetch X.509-SVIDs: Unavailable:'\
' cannot connect to tcp://127.0.0.1:1: Connection refused' ""
run api fetch x509 -socketPath none.sock
outcome "relative -socketPath" 2 'spiffe: invalid value for flag'\
' -socketPath: socket path "none.sock" is not absolute (give /full/path'\
' or unix:///full/path)' ""
SPIFFE_ENDPOINT_SOCKET=run/x.sock
run api fetch x509
outcome "relative SPIFFE_ENDPOINT_SOCKET" 2 'spiffe: SPIFFE_ENDPOINT_SOCKET:'\
' workload endpoint socket URI must have a "tcp" or "unix" scheme (a Unix'\
' socket is unix:///absolute/path)' ""
SPIFFE_ENDPOINT_SOCKET=/tmp/x.sock
run api fetch x509
outcome "bad SPIFFE_ENDPOINT_SOCKET" 2 'spiffe: SPIFFE_ENDPOINT_SOCKET:'\
' workload endpoint socket URI must have a "tcp" or "unix" scheme (did'\
' you mean unix:///tmp/x.sock?)' ""
unset SPIFFE_ENDPOINT_SOCKET
run api fetch x509
outcome "no endpoint" 2 'spiffe: workload endpoint socket address is not'\
' configured (set SPIFFE_ENDPOINT_SOCKET or give -socketPath)' ""
export SPIFFE_ENDPOINT_SOCKET=unix://$T/fake.sock
run api fetch x509 -timeout 0s
outcome "-timeout 0" 2 'spiffe: flag -timeout must be at least 1ms' ""
run api fetch x509 -timeout 5
outcome "-timeout without unit" 2 'spiffe: api fetch x509: invalid value'\
' "5" for flag -timeout: missing unit in duration "5" (see spiffe api'\
' fetch x509 -h)' ""
$PY -c 'import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(4)
open(sys.argv[1] + ".ready", "w").close()
c = s.accept()
time.sleep(30)' "$T/mute.sock" &
PIDS="$PIDS $!"
i=0
while [ ! -f "$T/mute.sock.ready" ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
run api fetch x509 -socketPath "$T/mute.sock" -timeout 300ms
outcome "mute agent" 2 'spiffe: cannot fetch X.509-SVIDs:'\
' DeadlineExceeded: context deadline exceeded' ""

# watch: every update, a refusal and its recovery, SIGINT and SIGTERM.
"$S" api watch -output json > "$T/watch" 2> "$T/watch.err" &
wpid=$!
PIDS="$PIDS $wpid"
wait_for "$T/watch" '"update":"x509_context"'
expect_eq "watch first update" "$(grep -c x509_context "$T/watch")" 1
kill -USR1 "$pid_fake"          # rotate
wait_for "$T/watch" '"update":"x509_context"' 2
expect_eq "watch sees the rotation" "$(grep x509_context "$T/watch" |
	tail -n 1 | $PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["certificates"][0]["serial"])')" \
	"$(cat "$F/serial")"
kill -USR2 "$pid_fake"          # no identity
wait_for "$T/watch.err" 'watch of X.509 contexts: PermissionDenied'
expect_contains "watch reports the refusal" "$(cat "$T/watch.err")" \
	'watch of X.509 contexts: PermissionDenied: no identity issued'\
' (retrying)'
n=$(grep -c x509_context "$T/watch")
kill -USR2 "$pid_fake"          # identity again
wait_for "$T/watch" '"update":"x509_context"' $((n + 1))
expect_eq "watch recovers" "$(grep -c x509_context "$T/watch")" $((n + 1))
kill -INT "$wpid"
wait "$wpid"
expect_eq "watch SIGINT exit" "$?" 0
expect_eq "watch output is JSON lines" "$($PY -c 'import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    assert d["update"] in ("x509_context", "jwt_bundles"), d
    assert d["time"].endswith("Z"), d
    n += 1
print(n >= 6)' "$T/watch" 2>&1)" True
expect_eq "watch stderr lines" "$(grep -vc \
	'^spiffe: [-0-9]*T[0-9:.]*Z watch of \(X.509 contexts\|JWT bundles\):'\
' PermissionDenied: no identity issued (retrying)$' "$T/watch.err")" 0
"$S" api watch > "$T/watch" 2> "$T/watch.err" &
wpid=$!
PIDS="$PIDS $wpid"
wait_for "$T/watch" ' JWT bundles update'
wait_for "$T/watch" ' X.509 context update'
kill -TERM "$wpid"
wait "$wpid"
expect_eq "watch SIGTERM exit" "$?" 0
expect_eq "watch pretty" "$(grep -c \
	'^[-0-9]*T[0-9:.]*Z X.509 context update$' "$T/watch")" 1
expect_eq "watch pretty body" "$(grep -A 3 'X.509 context update$' \
	"$T/watch" | sed -n 3,4p)" \
	"$(printf '\nSPIFFE ID:\t\tspiffe://example.org/workload')"
run api watch -timeout 1s
outcome "watch has no -timeout" 2 'spiffe: api watch: flag provided but'\
' not defined: -timeout (see spiffe api watch -h)' ""

# --- the Workload API, against spiffe-agent ------------------------------
# The same commands against our own agent: an entry for this uid, the
# agent's CA and JWT key files are what the commands must show.
A=$b/spiffe-agent
AD=$T/agent-data
mkdir -m 755 "$T/run"
ASOCK=$T/run/agent.sock
export SPIFFE_ENDPOINT_SOCKET=unix://$ASOCK
"$A" entry create -dataDir "$AD" -spiffeID spiffe://example.org/cli \
	-selector "unix:uid:$(id -u)" -hint primary > /dev/null ||
	fail "agent entry" "refused"
"$A" run -dataDir "$AD" -socketPath "$ASOCK" > "$T/agent.log" 2>&1 &
PIDS="$PIDS $!"
i=0
while ! "$A" healthcheck -socketPath "$ASOCK" > /dev/null 2>&1 &&
    [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done

run api fetch x509
outcome "agent fetch x509" 0 ""
expect_eq "agent fetch x509 first line" "$(printf '%s\n' "$out" |
	head -n 1 | grep -cE '^Received 1 svid after [0-9.]+(ns|.s|ms|s)$')" 1
expect_eq "agent fetch x509 body" "$(printf '%s\n' "$out" |
	sed -n -e 3,5p -e 8p)" "$(printf '%s\n' \
	'SPIFFE ID:		spiffe://example.org/cli' 'Hint:			primary' \
	'Chain length:		1' 'Bundle size:		1')"
expect_eq "agent fetch x509 CA" "$(printf '%s\n' "$out" | sed -n 9,10p)" \
	"$(printf '%s\n' \
	"CA #1 Valid After:	$(cert "$AD/ca_cert.pem" 0 \
	'go(c.not_valid_before)')" \
	"CA #1 Valid Until:	$(cert "$AD/ca_cert.pem" 0 \
	'go(c.not_valid_after)')")"
run api fetch x509 -output json
outcome "agent fetch x509 json" 0 ""
json "agent fetch x509 json svid" '[(s["spiffe_id"], s["hint"],
	len(s["certificates"])) for s in d["svids"]]' \
	"[('spiffe://example.org/cli', 'primary', 1)]"
json "agent fetch x509 json root" \
	'[(t, [c["serial"] for c in v]) for t, v in d["bundles"].items()]' \
	"[('example.org', ['$(cert "$AD/ca_cert.pem" 0 \
	'"%x" % c.serial_number')'])]"
mkdir "$T/aw"
run api fetch x509 -write "$T/aw" -silent
outcome "agent fetch x509 -write" 0 "" ""
expect_eq "agent written files" "$(cd "$T/aw" && ls | tr '\n' ' ')" \
	"bundle.0.pem svid.0.key svid.0.pem "
expect_eq "agent bundle.0.pem is the CA" \
	"$(cmp "$T/aw/bundle.0.pem" "$AD/ca_cert.pem" && echo same)" same
expect_eq "agent svid openssl verify" "$(openssl verify -CAfile \
	"$T/aw/bundle.0.pem" "$T/aw/svid.0.pem" 2>&1)" "$T/aw/svid.0.pem: OK"
expect_eq "agent svid key matches" \
	"$(openssl pkey -in "$T/aw/svid.0.key" -pubout 2>&1)" \
	"$(openssl x509 -in "$T/aw/svid.0.pem" -noout -pubkey 2>&1)"
run x509 verify -chain "$T/aw/svid.0.pem" -bundle "$T/aw/bundle.0.pem" \
	-id spiffe://example.org/cli
outcome "agent SVID verifies offline" 0 "" spiffe://example.org/cli

run api fetch jwt-bundles -output json
outcome "agent fetch jwt-bundles json" 0 ""
printf '%s' "$out" > "$T/agent-jwt-bundles.json"
json "agent jwt bundle kid" \
	'[(t, [k["kid"] for k in b["keys"]]) for t, b in d["bundles"].items()]' \
	"[('example.org', ['$(cat "$AD/jwt_kid")'])]"
json "agent jwt bundle key" '[k["x"] for k in
	d["bundles"]["example.org"]["keys"]]' "$($PY -c 'import sys, base64
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
x = k.public_key().public_numbers().x.to_bytes(32, "big")
print([base64.urlsafe_b64encode(x).decode().rstrip("=")])' "$AD/jwt_key.pem")"
$PY -c 'import json, sys
json.dump(json.load(open(sys.argv[1]))["bundles"]["example.org"],
          open(sys.argv[2], "w"))' "$T/agent-jwt-bundles.json" "$T/agent.jwks"
run api fetch x509-bundles -output json
outcome "agent fetch x509-bundles json" 0 ""
json "agent x509-bundles" \
	'[(t, [c["serial"] for c in v]) for t, v in d["bundles"].items()]' \
	"[('example.org', ['$(cert "$AD/ca_cert.pem" 0 \
	'"%x" % c.serial_number')'])]"

run api fetch jwt -audience a,b -output json
outcome "agent fetch jwt" 0 ""
atok=$(printf '%s' "$out" | $PY -c 'import json, sys
print(json.load(sys.stdin)["svids"][0]["token"])')
expect_eq "agent jwt verifies (python3-jwt)" "$($PY -c 'import jwt, sys
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
c = jwt.decode(sys.argv[2], k.public_key(), algorithms=["ES256"],
               audience="a")
h = jwt.get_unverified_header(sys.argv[2])
print(c["sub"], c["aud"], h["kid"] == open(sys.argv[3]).read().strip())' \
	"$AD/jwt_key.pem" "$atok" "$AD/jwt_kid" 2>&1)" \
	"spiffe://example.org/cli ['a', 'b'] True"
run jwt validate -token "$atok" -audience b -bundle "$T/agent.jwks"
outcome "agent token validates offline" 0 "" spiffe://example.org/cli
run api validate jwt -audience a -svid "$atok"
outcome "agent validate jwt" 0 ""
expect_eq "agent validate jwt id" "$(printf '%s\n' "$out" | sed -n 1,2p)" \
	"$(printf 'SVID is valid.\nSPIFFE ID : spiffe://example.org/cli')"
run api validate jwt -audience a -svid "$atok" -output json
json "agent validate jwt json" 'd["spiffe_id"], d["claims"]["aud"]' \
	"('spiffe://example.org/cli', ['a', 'b'])"
run api validate jwt -audience c -svid "$atok"
outcome "agent validate jwt audience" 1 'spiffe: JWT-SVID is not valid:'\
' expected audience in ["c"] (audience=["a" "b"])' ""
run api fetch jwt -audience a -spiffeID spiffe://example.org/other
outcome "agent fetch jwt other id" 1 'spiffe: cannot fetch JWT-SVIDs:'\
' PermissionDenied: no identity issued' ""

# watch: an entry added for this uid is pushed as a second SVID, its
# removal as one again; SIGINT ends the watch with 0.
"$S" api watch -output json > "$T/awatch" 2> "$T/awatch.err" &
wpid=$!
PIDS="$PIDS $wpid"
wait_for "$T/awatch" '"update":"x509_context"'
wait_for "$T/awatch" '"update":"jwt_bundles"'
svids() { grep x509_context "$T/awatch" | $PY -c 'import json, sys
print(" ".join(",".join(s["spiffe_id"].rsplit("/", 1)[1] for s in
      json.loads(l)["svids"]) for l in sys.stdin))'; }
expect_eq "agent watch first" "$(svids)" cli
"$A" entry create -dataDir "$AD" -spiffeID spiffe://example.org/cli2 \
	-selector "unix:uid:$(id -u)" -entryID cli2 > /dev/null
wait_for "$T/awatch" '"update":"x509_context"' 2
expect_eq "agent watch entry added" "$(svids)" "cli cli,cli2"
"$A" entry delete -dataDir "$AD" -entryID cli2 > /dev/null
wait_for "$T/awatch" '"update":"x509_context"' 3
expect_eq "agent watch entry deleted" "$(svids)" "cli cli,cli2 cli"
kill -INT "$wpid"
wait "$wpid"
expect_eq "agent watch SIGINT exit" "$?" 0
expect_eq "agent watch stderr" "$(cat "$T/awatch.err")" ""

# A uid the agent has no entry for is refused, by every command.
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
	chmod 711 "$T"
	for c in "fetch x509:X.509-SVIDs" "fetch jwt -audience a:JWT-SVIDs" \
	    "fetch jwt-bundles:JWT bundles" "fetch x509-bundles:X.509 bundles"
	do
		out=$(setpriv --reuid=4321 --regid=4321 --clear-groups \
			"$S" api ${c%%:*} 2>&1)
		rc=$?
		expect_eq "agent refuses uid 4321: api ${c%%:*}" "$rc $out" \
			"1 spiffe: cannot fetch ${c#*:}: PermissionDenied:\
 no identity issued"
	done
	chmod 700 "$T"
else
	skip "agent refusal" "needs root and setpriv"
fi
finish
