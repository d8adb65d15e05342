#!/bin/sh
# agent_ca_test.sh - the agent CA's output checked by other implementations:
# openssl(1) verifies the X.509-SVID against the bundle and prints its
# extensions; python3-cryptography reads the certificates and the PKCS#8
# key; python3-jwt verifies the JWT-SVID against the JWKS with an audience.
#
#   sh test/agent_ca_test.sh BUILD_DIR
. "$(dirname "$0")/lib.sh"
b=${1:?usage: agent_ca_test.sh BUILD_DIR}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

if ! "$b/test/test_agent_ca" --write "$t" > "$t/log" 2>&1; then
	fail write "$(cat "$t/log")"
	finish
	exit 1
fi
pass

openssl x509 -inform DER -in "$t/bundle.der" -out "$t/bundle.pem" 2>&1 &&
openssl x509 -inform DER -in "$t/svid.der" -out "$t/svid.pem" 2>&1
expect_eq der-to-pem $? 0

# Chain: the SVID verifies against the bundle for TLS server and client.
out=$(openssl verify -x509_strict -CAfile "$t/bundle.pem" \
	-purpose sslserver "$t/svid.pem" 2>&1)
expect_eq verify-server "$out" "$t/svid.pem: OK"
out=$(openssl verify -x509_strict -CAfile "$t/bundle.pem" \
	-purpose sslclient "$t/svid.pem" 2>&1)
expect_eq verify-client "$out" "$t/svid.pem: OK"
# The root is a valid self-signed trust anchor under -x509_strict.
out=$(openssl verify -x509_strict -CAfile "$t/bundle.pem" \
	"$t/bundle.pem" 2>&1)
expect_eq verify-root "$out" "$t/bundle.pem: OK"

# Extensions as openssl prints them (critical marks included).
txt=$(openssl x509 -in "$t/svid.pem" -noout -text)
one() { printf '%s\n' "$txt" | grep -A1 -F -- "$1" | tail -n 1 | \
	sed 's/^ *//'; }
expect_eq svid-ku-critical "$(printf '%s\n' "$txt" | grep -c \
	'X509v3 Key Usage: critical')" 1
expect_eq svid-ku "$(one 'X509v3 Key Usage: critical')" \
	"Digital Signature"
expect_eq svid-bc-critical "$(printf '%s\n' "$txt" | grep -c \
	'X509v3 Basic Constraints: critical')" 1
expect_eq svid-bc "$(one 'X509v3 Basic Constraints: critical')" "CA:FALSE"
expect_eq svid-eku "$(one 'X509v3 Extended Key Usage:')" \
	"TLS Web Server Authentication, TLS Web Client Authentication"
expect_eq svid-san "$(one 'X509v3 Subject Alternative Name:')" \
	"URI:spiffe://example.org/workload"
expect_contains svid-subject "$txt" "Subject: O = SPIFFE"
expect_contains svid-alg "$txt" "Signature Algorithm: ecdsa-with-SHA256"
expect_contains svid-curve "$txt" "NIST CURVE: P-256"
expect_contains svid-ski "$txt" "X509v3 Subject Key Identifier"
expect_contains svid-aki "$txt" "X509v3 Authority Key Identifier"

txt=$(openssl x509 -in "$t/bundle.pem" -noout -text)
expect_eq root-bc "$(one 'X509v3 Basic Constraints: critical')" \
	"CA:TRUE, pathlen:0"
expect_eq root-ku "$(one 'X509v3 Key Usage: critical')" \
	"Certificate Sign, CRL Sign"
expect_eq root-san "$(one 'X509v3 Subject Alternative Name:')" \
	"URI:spiffe://example.org"

# The PKCS#8 key is the certificate's key.
k=$(openssl pkey -inform DER -in "$t/svid.key.der" -pubout 2>&1)
c=$(openssl x509 -in "$t/svid.pem" -noout -pubkey 2>&1)
expect_eq key-matches "$k" "$c"

# python3-cryptography and python3-jwt.
out=$($PY - "$t" <<'EOF' 2>&1
import json, sys, time
import jwt
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
d = sys.argv[1]
rd = lambda n: open(d + "/" + n, "rb").read()
leaf = x509.load_der_x509_certificate(rd("svid.der"))
root = x509.load_der_x509_certificate(rd("bundle.der"))
key = serialization.load_der_private_key(rd("svid.key.der"), None)
assert isinstance(key, ec.EllipticCurvePrivateKey)
assert key.curve.name == "secp256r1"
assert key.public_key().public_numbers() == \
    leaf.public_key().public_numbers()
# The DER re-encodes to itself as PKCS#8 (no SEC1 form passed off).
assert key.private_bytes(serialization.Encoding.DER,
                         serialization.PrivateFormat.PKCS8,
                         serialization.NoEncryption()) is not None
# Leaf extensions, exactly.
ex = {e.oid: e for e in leaf.extensions}
assert set(ex) == {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                   ExtensionOID.EXTENDED_KEY_USAGE,
                   ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                   ExtensionOID.SUBJECT_KEY_IDENTIFIER,
                   ExtensionOID.AUTHORITY_KEY_IDENTIFIER}, set(ex)
bc = ex[ExtensionOID.BASIC_CONSTRAINTS]
assert bc.critical and bc.value.ca is False
ku = ex[ExtensionOID.KEY_USAGE]
assert ku.critical and ku.value.digital_signature
assert not (ku.value.key_cert_sign or ku.value.crl_sign or
            ku.value.key_encipherment or ku.value.content_commitment)
eku = ex[ExtensionOID.EXTENDED_KEY_USAGE]
assert list(eku.value) == [ExtendedKeyUsageOID.SERVER_AUTH,
                           ExtendedKeyUsageOID.CLIENT_AUTH]
san = ex[ExtensionOID.SUBJECT_ALTERNATIVE_NAME]
assert [g.value for g in san.value] == ["spiffe://example.org/workload"]
aki = ex[ExtensionOID.AUTHORITY_KEY_IDENTIFIER].value.key_identifier
rski = root.extensions.get_extension_for_oid(
    ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
assert aki == rski
assert 0 < leaf.serial_number < 2**127 and leaf.serial_number.bit_length() > 64
assert root.serial_number > 0
assert leaf.not_valid_before >= root.not_valid_before
assert leaf.not_valid_after <= root.not_valid_after
life = leaf.not_valid_after - leaf.not_valid_before
assert life.total_seconds() == 3610, life
rlife = root.not_valid_after - root.not_valid_before
assert rlife.total_seconds() == 5 * 365 * 86400 + 10, rlife
root.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                         ec.ECDSA(leaf.signature_hash_algorithm))
# JWT-SVID against the JWKS, with the audience.
jwks = json.loads(rd("jwks.json"))
assert len(jwks["keys"]) == 1
k = jwks["keys"][0]
assert set(k) == {"kty", "crv", "x", "y", "kid", "use"}
assert k["use"] == "jwt-svid"
tok = rd("jwt").decode()
hdr = jwt.get_unverified_header(tok)
assert hdr == {"alg": "ES256", "kid": k["kid"], "typ": "JWT"}, hdr
pub = jwt.PyJWK(k).key
c = jwt.decode(tok, pub, algorithms=["ES256"],
               audience="spiffe://example.org/server")
assert set(c) == {"aud", "exp", "iat", "sub"}, c
assert c["sub"] == "spiffe://example.org/workload"
assert c["aud"] == ["spiffe://example.org/server"]
assert c["exp"] - c["iat"] == 300
assert abs(c["iat"] - time.time()) < 60
try:
    jwt.decode(tok, pub, algorithms=["ES256"], audience="spiffe://x/y")
    raise SystemExit("wrong audience accepted")
except jwt.InvalidAudienceError:
    pass
bad = tok[:-3] + ("AAA" if not tok.endswith("AAA") else "BBB")
try:
    jwt.decode(bad, pub, algorithms=["ES256"],
               audience="spiffe://example.org/server")
    raise SystemExit("bad signature accepted")
except jwt.InvalidSignatureError:
    pass
print("ok")
EOF
)
expect_eq python-checks "$out" "ok"

# A second run reuses the CA: the same bundle.
cp "$t/bundle.der" "$t/bundle1.der"
"$b/test/test_agent_ca" --write "$t" > "$t/log" 2>&1
expect_eq rerun $? 0
expect_eq same-bundle "$(cmp "$t/bundle.der" "$t/bundle1.der" && echo same)" \
	same
expect_eq modes "$(stat -c '%a %n' "$t/data" "$t/data"/* | sed "s|$t/||")" \
"700 data
600 data/ca.lock
600 data/ca_cert.pem
600 data/ca_key.pem
600 data/jwt_key.pem
600 data/jwt_kid"
finish
