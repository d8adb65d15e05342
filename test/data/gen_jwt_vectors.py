#!/usr/bin/python3
"""gen_jwt_vectors.py - JWT-SVID and JWK bundle test vectors, made by
implementations other than ours: python3-cryptography (keys, ECDSA/RSA
signatures), python3-jwt (PyJWT: valid tokens and JWK export) and the
openssl CLI (CA certificates for x5c).

    /usr/bin/python3 test/data/gen_jwt_vectors.py      (from the repo root)

Writes test/data/jwtsvid/*.jwt and test/data/bundle/*.json.  Keys live in
test/data/jwtsvid/keys/ and are reused when present, so re-running only
changes the (randomized) ECDSA and PSS signatures.  Times are fixed around
NOW = 1767225600 (2026-01-01T00:00:00Z); tests call spiffe_clock_set(NOW).
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature)

NOW = 1767225600
TD = "example.org"
SUB = "spiffe://example.org/client"
AUD = "spiffe://example.org/server"

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
JDIR = os.path.join(ROOT, "test", "data", "jwtsvid")
KDIR = os.path.join(JDIR, "keys")
BDIR = os.path.join(ROOT, "test", "data", "bundle")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# --- keys -----------------------------------------------------------------

def load_or_make(name, make):
    path = os.path.join(KDIR, name + ".pem")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    key = make()
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key


os.makedirs(KDIR, exist_ok=True)
os.makedirs(BDIR, exist_ok=True)
KEYS = {
    "ec256": load_or_make("ec256", lambda: ec.generate_private_key(
        ec.SECP256R1())),
    "ec384": load_or_make("ec384", lambda: ec.generate_private_key(
        ec.SECP384R1())),
    "ec521": load_or_make("ec521", lambda: ec.generate_private_key(
        ec.SECP521R1())),
    "rsa2048": load_or_make("rsa2048", lambda: rsa.generate_private_key(
        65537, 2048)),
    "rsa3072": load_or_make("rsa3072", lambda: rsa.generate_private_key(
        65537, 3072)),
}
# Keys that are never in the trust bundle.
ATTACKER = load_or_make("attacker-ec256", lambda: ec.generate_private_key(
    ec.SECP256R1()))
RSA1024 = load_or_make("rsa1024", lambda: rsa.generate_private_key(
    65537, 1024))
OTHER = load_or_make("other-ec256", lambda: ec.generate_private_key(
    ec.SECP256R1()))
ED = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))

# Public keys for the C tests (PEM SubjectPublicKeyInfo).
for name, key in list(KEYS.items()) + [("other-ec256", OTHER),
                                       ("rsa1024", RSA1024),
                                       ("attacker-ec256", ATTACKER)]:
    write(os.path.join(KDIR, name + ".pub.pem"), key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode())

HASH = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
FIELD = {"ES256": 32, "ES384": 48, "ES512": 66}


# --- hand-made signing (for tokens PyJWT will not make) ---------------------

def sign(alg, key, data, der=False):
    h = HASH[alg[2:]]()
    if alg.startswith("ES"):
        sig = key.sign(data, ec.ECDSA(h))
        if der:
            return sig
        r, s = decode_dss_signature(sig)
        n = FIELD[alg]
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(mgf=padding.MGF1(h),
                                          salt_length=h.digest_size), h)
    raise ValueError(alg)


def raw_token(header_b64, claims_b64, alg, key, der=False):
    si = (header_b64 + "." + claims_b64).encode()
    return header_b64 + "." + claims_b64 + "." + b64u(sign(alg, key, si, der))


def hand(header, claims, alg, key, der=False):
    """A token from header/claims dicts, signed here (not by PyJWT)."""
    return raw_token(b64u_json(header), b64u_json(claims), alg, key, der)


def claims(**kw):
    c = {"sub": SUB, "aud": [AUD], "exp": NOW + 3600, "iat": NOW}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def pyjwt(alg, keyname, c=None, kid=None, typ="JWT"):
    """A token made by PyJWT (the independent implementation)."""
    headers = {"kid": keyname if kid is None else kid}
    if typ is None:
        headers["typ"] = None
    else:
        headers["typ"] = typ
    tok = jwt.encode(claims() if c is None else c, KEYS[keyname],
                     algorithm=alg, headers=headers)
    return tok


vectors = {}

# Valid tokens for each of the nine algorithms, made by PyJWT.
vectors["es256-valid"] = pyjwt("ES256", "ec256")
vectors["es384-valid"] = pyjwt("ES384", "ec384")
vectors["es512-valid"] = pyjwt("ES512", "ec521")
vectors["rs256-valid"] = pyjwt("RS256", "rsa2048")
vectors["rs384-valid"] = pyjwt("RS384", "rsa2048")
vectors["rs512-valid"] = pyjwt("RS512", "rsa2048")
vectors["ps256-valid"] = pyjwt("PS256", "rsa2048")
vectors["ps384-valid"] = pyjwt("PS384", "rsa2048")
vectors["ps512-valid"] = pyjwt("PS512", "rsa2048")
vectors["rs256-rsa3072-valid"] = pyjwt("RS256", "rsa3072")
vectors["ps384-rsa3072-valid"] = pyjwt("PS384", "rsa3072")
vectors["rs512-rsa3072-valid"] = pyjwt("RS512", "rsa3072")
# Hand-made valid tokens: typ JOSE, no typ, several audiences, escapes,
# fractional NumericDates, unknown claims, nbf.
vectors["typ-jose-valid"] = hand({"alg": "ES256", "kid": "ec256",
                                  "typ": "JOSE"}, claims(), "ES256",
                                 KEYS["ec256"])
vectors["no-typ-valid"] = hand({"alg": "ES256", "kid": "ec256"}, claims(),
                               "ES256", KEYS["ec256"])
vectors["aud-string-valid"] = hand({"alg": "ES256", "kid": "ec256"},
                                   claims(aud=AUD), "ES256", KEYS["ec256"])
vectors["aud-multi-valid"] = hand(
    {"alg": "ES256", "kid": "ec256"},
    claims(aud=["spiffe://example.org/other", AUD, "x"]), "ES256",
    KEYS["ec256"])
vectors["fractional-dates-valid"] = hand(
    {"alg": "ES256", "kid": "ec256"},
    claims(exp=NOW + 3600.75, iat=NOW - 0.5, nbf=NOW - 10.25), "ES256",
    KEYS["ec256"])
vectors["extra-claims-valid"] = hand(
    {"alg": "ES256", "kid": "ec256"},
    claims(iss="https://issuer.example", jti="abc", custom={"a": [1, 2]},
           nbf=NOW - 60), "ES256", KEYS["ec256"])
# Escaped sub and aud ("\/" and "\u0065"): equal after decoding.
vectors["escaped-strings-valid"] = raw_token(
    b64u(b'{"alg":"ES256","kid":"ec\\u0032\\u00356"}'),
    b64u(('{"sub":"spiffe:\\/\\/example.org\\/client","aud":'
          '["spiffe://\\u0065xample.org/server"],"exp":%d}' %
          (NOW + 3600)).encode()), "ES256", KEYS["ec256"])
# exp/nbf/iat at exact offsets, for leeway edges (clock fixed at NOW).
for name, c in [
        ("exp-minus-30", claims(exp=NOW - 30)),
        ("exp-minus-60", claims(exp=NOW - 60)),
        ("exp-minus-61", claims(exp=NOW - 61)),
        ("exp-minus-120", claims(exp=NOW - 120)),
        ("nbf-plus-30", claims(nbf=NOW + 30)),
        ("nbf-plus-120", claims(nbf=NOW + 120)),
        ("iat-plus-30", claims(iat=NOW + 30)),
        ("iat-plus-120", claims(iat=NOW + 120))]:
    vectors[name] = hand({"alg": "ES256", "kid": "ec256", "typ": "JWT"}, c,
                         "ES256", KEYS["ec256"])

# --- invalid tokens ---------------------------------------------------------
ES = {"alg": "ES256", "kid": "ec256", "typ": "JWT"}
valid = vectors["es256-valid"]
vh, vc, vs = valid.split(".")

vectors["alg-none"] = b64u_json({"alg": "none", "typ": "JWT"}) + "." + \
    b64u_json(claims()) + "."
vectors["alg-rs256-lowercase"] = hand({"alg": "rs256", "kid": "rsa2048"},
                                      claims(), "RS256", KEYS["rsa2048"])
vectors["alg-eddsa"] = b64u_json({"alg": "EdDSA", "kid": "ed"}) + "." + \
    b64u_json(claims())
vectors["alg-eddsa"] += "." + b64u(ED.sign(vectors["alg-eddsa"].encode()))
vectors["alg-missing"] = raw_token(b64u_json({"kid": "ec256"}),
                                   b64u_json(claims()), "ES256",
                                   KEYS["ec256"])
vectors["alg-number"] = raw_token(b64u_json({"alg": 256, "kid": "ec256"}),
                                  b64u_json(claims()), "ES256",
                                  KEYS["ec256"])
# HS256 keyed with the RSA public key's PEM: the classic confusion attack.
pem = KEYS["rsa2048"].public_key().public_bytes(
    serialization.Encoding.PEM,
    serialization.PublicFormat.SubjectPublicKeyInfo)
si = b64u_json({"alg": "HS256", "kid": "rsa2048", "typ": "JWT"}) + "." + \
    b64u_json(claims())
vectors["hs256-pubkey-as-secret"] = si + "." + b64u(
    hmac.new(pem, si.encode(), hashlib.sha256).digest())

vectors["unknown-kid"] = hand({"alg": "ES256", "kid": "nokey"}, claims(),
                              "ES256", KEYS["ec256"])
vectors["missing-kid"] = hand({"alg": "ES256", "typ": "JWT"}, claims(),
                              "ES256", KEYS["ec256"])
vectors["empty-kid"] = hand({"alg": "ES256", "kid": ""}, claims(), "ES256",
                            KEYS["ec256"])
vectors["kid-number"] = hand({"alg": "ES256", "kid": 7}, claims(), "ES256",
                             KEYS["ec256"])
# Right key material, wrong algorithm family or curve for the kid.
vectors["rs256-token-ec-kid"] = hand({"alg": "RS256", "kid": "ec384"},
                                     claims(), "RS256", KEYS["rsa2048"])
vectors["es256-token-rsa-kid"] = hand({"alg": "ES256", "kid": "rsa2048"},
                                      claims(), "ES256", KEYS["ec256"])
vectors["es384-token-ec256-kid"] = hand({"alg": "ES384", "kid": "ec256"},
                                        claims(), "ES384", KEYS["ec384"])
vectors["ps256-token-signed-rs256"] = hand(
    {"alg": "PS256", "kid": "rsa2048"}, claims(), "RS256", KEYS["rsa2048"])
# Signed by a key that is not in the bundle, under a bundle kid.
vectors["attacker-key"] = hand(ES, claims(), "ES256", ATTACKER)

sig = bytearray(base64.urlsafe_b64decode(vs + "=" * (-len(vs) % 4)))
sig[-1] ^= 0x01
vectors["bad-signature"] = vh + "." + vc + "." + b64u(bytes(sig))
vectors["ecdsa-der-sig"] = hand(ES, claims(), "ES256", KEYS["ec256"],
                                der=True)
vectors["ecdsa-sig-short"] = vh + "." + vc + "." + b64u(bytes(sig[:63]))
vectors["ecdsa-sig-long"] = vh + "." + vc + "." + b64u(bytes(sig) + b"\0")
vectors["ecdsa-sig-zero"] = vh + "." + vc + "." + b64u(bytes(64))
vectors["empty-signature"] = vh + "." + vc + "."
rs = vectors["rs256-valid"].split(".")
rsig = base64.urlsafe_b64decode(rs[2] + "=" * (-len(rs[2]) % 4))
vectors["rsa-sig-short"] = rs[0] + "." + rs[1] + "." + b64u(rsig[1:])
# Claims swapped after signing: the signature no longer covers them.
vectors["claims-swapped"] = vh + "." + b64u_json(
    claims(sub="spiffe://example.org/admin")) + "." + vs

vectors["expired"] = hand(ES, claims(exp=NOW - 3600), "ES256",
                          KEYS["ec256"])
vectors["expired-bad-signature"] = hand(ES, claims(exp=NOW - 3600),
                                        "ES256", ATTACKER)
vectors["nbf-future"] = hand(ES, claims(nbf=NOW + 3600), "ES256",
                             KEYS["ec256"])
vectors["iat-future"] = hand(ES, claims(iat=NOW + 3600), "ES256",
                             KEYS["ec256"])
vectors["missing-exp"] = hand(ES, claims(exp=None), "ES256", KEYS["ec256"])
vectors["exp-null"] = hand(ES, claims(exp=None) | {"exp": None}, "ES256",
                           KEYS["ec256"])
vectors["exp-string"] = hand(ES, claims(exp=str(NOW + 3600)), "ES256",
                             KEYS["ec256"])
vectors["nbf-string"] = hand(ES, claims(nbf="soon"), "ES256", KEYS["ec256"])
vectors["iss-number"] = hand(ES, claims(iss=5), "ES256", KEYS["ec256"])
vectors["missing-aud"] = hand(ES, claims(aud=None), "ES256", KEYS["ec256"])
vectors["aud-empty-array"] = hand(ES, claims(aud=[]), "ES256",
                                  KEYS["ec256"])
vectors["aud-mismatch"] = hand(ES, claims(aud=["spiffe://example.org/other"]),
                               "ES256", KEYS["ec256"])
vectors["aud-number"] = hand(ES, claims(aud=5), "ES256", KEYS["ec256"])
vectors["aud-array-number"] = hand(ES, claims(aud=[AUD, 5]), "ES256",
                                   KEYS["ec256"])
vectors["aud-too-many"] = hand(ES, claims(aud=["a%d" % i
                                               for i in range(33)] + [AUD]),
                               "ES256", KEYS["ec256"])
vectors["missing-sub"] = hand(ES, claims(sub=None), "ES256", KEYS["ec256"])
vectors["empty-sub"] = hand(ES, claims(sub=""), "ES256", KEYS["ec256"])
vectors["sub-number"] = hand(ES, claims(sub=42), "ES256", KEYS["ec256"])
vectors["sub-not-spiffe"] = hand(ES, claims(sub="invalid subject"),
                                 "ES256", KEYS["ec256"])
vectors["sub-uppercase-scheme"] = hand(
    ES, claims(sub="SPIFFE://example.org/client"), "ES256", KEYS["ec256"])
vectors["sub-other-td"] = hand(ES, claims(sub="spiffe://other.org/client"),
                               "ES256", KEYS["ec256"])
vectors["sub-unknown-td"] = hand(
    ES, claims(sub="spiffe://another.domain/host"), "ES256", KEYS["ec256"])
# Headers a JWT-SVID must not carry.
vectors["extra-header"] = hand({"alg": "ES256", "kid": "ec256", "typ": "JWT",
                                "cty": "JWT"}, claims(), "ES256",
                               KEYS["ec256"])
vectors["extra-header-crit"] = hand(
    {"alg": "ES256", "kid": "ec256", "crit": ["exp"], "exp": 1},
    claims(), "ES256", KEYS["ec256"])
atk_jwk = json.loads(ECAlgorithm.to_jwk(ATTACKER.public_key()))
vectors["extra-header-jwk"] = hand({"alg": "ES256", "kid": "ec256",
                                    "jwk": atk_jwk}, claims(), "ES256",
                                   ATTACKER)
vectors["extra-header-x5c"] = hand({"alg": "ES256", "kid": "ec256",
                                    "x5c": ["MIIB"]}, claims(), "ES256",
                                   KEYS["ec256"])
vectors["typ-invalid"] = hand({"alg": "ES256", "kid": "ec256",
                               "typ": "invalid"}, claims(), "ES256",
                              KEYS["ec256"])
vectors["typ-lowercase"] = hand({"alg": "ES256", "kid": "ec256",
                                 "typ": "jwt"}, claims(), "ES256",
                                KEYS["ec256"])
vectors["typ-number"] = hand({"alg": "ES256", "kid": "ec256", "typ": 1},
                             claims(), "ES256", KEYS["ec256"])
vectors["typ-media-type"] = hand({"alg": "ES256", "kid": "ec256",
                                  "typ": "application/jwt"}, claims(),
                                 "ES256", KEYS["ec256"])
# Duplicate members (RFC 7515 section 4: MUST reject or use the last;
# we reject).
vectors["duplicate-header"] = raw_token(
    b64u(b'{"alg":"ES256","kid":"ec256","alg":"ES256"}'),
    b64u_json(claims()), "ES256", KEYS["ec256"])
vectors["duplicate-claim"] = raw_token(
    b64u_json(ES), b64u(('{"sub":"spiffe://example.org/client",'
                         '"sub":"spiffe://example.org/admin","aud":"%s",'
                         '"exp":%d}' % (AUD, NOW + 3600)).encode()),
    "ES256", KEYS["ec256"])
vectors["header-not-object"] = raw_token(b64u(b'["ES256"]'),
                                         b64u_json(claims()), "ES256",
                                         KEYS["ec256"])
vectors["header-not-json"] = raw_token(b64u(b'{"alg":"ES256",}'),
                                       b64u_json(claims()), "ES256",
                                       KEYS["ec256"])
vectors["claims-not-object"] = raw_token(b64u_json(ES), b64u(b'[1,2]'),
                                         "ES256", KEYS["ec256"])
vectors["claims-not-json"] = raw_token(b64u_json(ES), b64u(b'not json'),
                                       "ES256", KEYS["ec256"])
vectors["empty-claims"] = raw_token(b64u_json(ES), "", "ES256",
                                    KEYS["ec256"])
# Serialization.
vectors["four-parts"] = valid + "." + vs
vectors["two-parts"] = vh + "." + vc
vectors["one-part"] = vh
vectors["empty"] = ""
vectors["json-serialization"] = json.dumps(
    {"payload": vc, "protected": vh, "signature": vs})
vectors["whitespace"] = " " + valid
vectors["trailing-newline"] = valid + "\n"
vectors["padded-b64"] = vh + "." + vc + "=" * (-len(vc) % 4 or 4) + "." + vs
# A valid token whose encoding has '-' or '_', then in the standard
# alphabet ('+', '/').
t = valid
while "-" not in t and "_" not in t:
    t = hand(ES, claims(), "ES256", KEYS["ec256"])
vectors["std-alphabet-b64"] = t.replace("-", "+").replace("_", "/")


def noncanonical(seg):
    """The same bytes with nonzero unused low bits in the last char."""
    alpha = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
             "0123456789-_")
    unused = {2: 4, 3: 2}[len(seg) % 4]
    v = alpha.index(seg[-1])
    assert v & ((1 << unused) - 1) == 0
    return seg[:-1] + alpha[v | 1]


# Claims whose b64 length leaves unused bits, re-signed so that only the
# encoding is wrong.
c = claims()
while len(b64u_json(c)) % 4 == 0:
    c["x"] = c.get("x", "") + "a"
cb = b64u_json(c)
hb = b64u_json(ES)
tok = raw_token(hb, cb, "ES256", KEYS["ec256"])
vectors["noncanonical-b64"] = raw_token(hb, noncanonical(cb), "ES256",
                                        KEYS["ec256"])
vectors["noncanonical-b64-unsigned-fix"] = hb + "." + noncanonical(cb) + \
    "." + tok.split(".")[2]
big = claims(pad="x" * 17000)
vectors["too-long"] = hand(ES, big, "ES256", KEYS["ec256"])

for name, tok in vectors.items():
    write(os.path.join(JDIR, name + ".jwt"), tok)

# --- bundles ----------------------------------------------------------------


def ec_jwk(pub):
    """RFC 7518 section 6.2.1: x and y are the FULL coordinate size.
    PyJWT 2.6's ECAlgorithm.to_jwk drops leading zero octets (a P-521 x
    of 65 bytes), which RFC 7518 and go-jose reject; so EC JWKs are
    written here from cryptography's numbers."""
    n = pub.public_numbers()
    size = (pub.curve.key_size + 7) // 8
    crv = {"secp256r1": "P-256", "secp384r1": "P-384",
           "secp521r1": "P-521"}[pub.curve.name]
    return {"kty": "EC", "crv": crv, "x": b64u(n.x.to_bytes(size, "big")),
            "y": b64u(n.y.to_bytes(size, "big"))}


def jwk(key, kid=None, use=None, **extra):
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, rsa.RSAPublicKey):
        d = json.loads(RSAAlgorithm.to_jwk(pub))
    else:
        d = ec_jwk(pub)
    d.pop("key_ops", None)
    if kid is not None:
        d["kid"] = kid
    if use is not None:
        d["use"] = use
    d.update(extra)
    return d


def dump(name, obj):
    write(os.path.join(BDIR, name + ".json"),
          json.dumps(obj, indent=2) + "\n")


ALL = ["ec256", "ec384", "ec521", "rsa2048", "rsa3072"]
dump("jwks-valid", {"keys": [jwk(KEYS[k], k, "jwt-svid") for k in ALL]})
dump("jwks-no-use", {"keys": [jwk(KEYS[k], k) for k in ALL]})
dump("jwks-other-td", {"keys": [jwk(OTHER, "other-ec256")]})
dump("jwks-use-ignored", {"keys": [
    jwk(KEYS["ec256"], "ec256", "x509-svid"),
    jwk(KEYS["ec384"], "ec384", "sig"),
    jwk(KEYS["rsa2048"], "rsa2048", "JWT-SVID")]})
dump("jwks-unknown-kty", {"keys": [
    {"kty": "OKP", "crv": "Ed25519", "kid": "ed",
     "x": b64u(ED.public_key().public_bytes(
         serialization.Encoding.Raw, serialization.PublicFormat.Raw))},
    jwk(KEYS["ec256"], "ec256"),
    {"kty": "XYZ", "kid": "xyz"},
    {"kty": "oct", "kid": "hmac", "k": b64u(b"secret-secret-secret")},
    jwk(KEYS["rsa2048"], "rsa2048")]})
dump("jwks-unknown-crv", {"keys": [
    {"kty": "EC", "crv": "secp256k1", "kid": "k1",
     "x": b64u(bytes(32)), "y": b64u(bytes(32))},
    {"kty": "EC", "crv": "P-192", "kid": "p192",
     "x": b64u(bytes(24)), "y": b64u(bytes(24))},
    jwk(KEYS["ec384"], "ec384")]})
dump("jwks-oct", {"keys": [{"kty": "oct", "kid": "rsa2048",
                            "k": b64u(pem)}]})
dump("jwks-missing-kid", {"keys": [jwk(KEYS["ec256"], "ec256"),
                                   jwk(KEYS["ec384"]),
                                   jwk(KEYS["rsa2048"], "rsa2048")]})
dump("jwks-empty-kid", {"keys": [jwk(KEYS["ec256"], "")]})
dump("jwks-kid-number", {"keys": [jwk(KEYS["ec256"], 5)]})
dump("jwks-unknown-kty-no-kid", {"keys": [
    {"kty": "OKP", "crv": "Ed25519", "x": b64u(bytes(32))},
    jwk(KEYS["ec256"], "ec256")]})
dump("jwks-missing-kty", {"keys": [{"kid": "a", "crv": "P-256"}]})
dump("jwks-duplicate-kid", {"keys": [jwk(KEYS["ec256"], "k"),
                                     jwk(KEYS["ec384"], "k")]})
write(os.path.join(BDIR, "jwks-duplicate-member.json"),
      '{"keys":[],"keys":[%s]}\n' % json.dumps(jwk(KEYS["ec256"], "ec256")))
k = jwk(KEYS["ec256"], "ec256")
write(os.path.join(BDIR, "jwks-duplicate-key-member.json"),
      '{"keys":[{"kty":"EC","crv":"P-256","x":"%s","y":"%s","kid":"a",'
      '"kid":"b"}]}\n' % (k["x"], k["y"]))
dump("jwks-empty-object", {})
dump("jwks-empty-keys", {"keys": []})
dump("jwks-null-keys", {"keys": None})
dump("jwks-keys-object", {"keys": {}})
dump("jwks-key-not-object", {"keys": ["ec256"]})
dump("jwks-too-many-keys", {"keys": [jwk(KEYS["ec256"], "k%d" % i)
                                     for i in range(257)]})
dump("jwks-max-keys", {"keys": [jwk(KEYS["ec256"], "k%d" % i)
                                for i in range(256)]})
# EC keys with bad coordinates.
short = dict(k)
short["x"] = b64u(base64.urlsafe_b64decode(k["x"] + "==")[1:])
dump("jwks-ec-short-x", {"keys": [short]})
longy = dict(k)
longy["y"] = b64u(b"\0" + base64.urlsafe_b64decode(k["y"] + "=="))
dump("jwks-ec-long-y", {"keys": [longy]})
off = dict(k)
yb = bytearray(base64.urlsafe_b64decode(k["y"] + "=="))
yb[-1] ^= 1
off["y"] = b64u(bytes(yb))
dump("jwks-ec-not-on-curve", {"keys": [off]})
# PyJWT's own JWK for the P-521 key: x or y short when it has a leading
# zero octet (the committed key has one), which RFC 7518 forbids.
dump("jwks-ec521-pyjwt-unpadded", {"keys": [dict(json.loads(
    ECAlgorithm.to_jwk(KEYS["ec521"].public_key())), kid="ec521")]})
dump("jwks-ec-missing-y", {"keys": [{kk: vv for kk, vv in k.items()
                                     if kk != "y"}]})
dump("jwks-ec-crv-mismatch", {"keys": [dict(k, crv="P-384")]})
dump("jwks-ec-private", {"keys": [dict(k, d=b64u(
    KEYS["ec256"].private_numbers().private_value.to_bytes(32, "big")))]})
dump("jwks-ec-padded-b64", {"keys": [dict(k, x=k["x"] + "=")]})
# RSA keys.
dump("jwks-rsa-1024", {"keys": [jwk(RSA1024, "rsa1024")]})
r = jwk(KEYS["rsa2048"], "rsa2048")
dump("jwks-rsa-missing-e", {"keys": [{kk: vv for kk, vv in r.items()
                                      if kk != "e"}]})
dump("jwks-rsa-n-leading-zero", {"keys": [dict(r, n=b64u(
    b"\0" + base64.urlsafe_b64decode(r["n"] + "==")))]})
dump("jwks-rsa-e-even", {"keys": [dict(r, e=b64u(b"\x01\x00\x00"))]})
dump("jwks-rsa-e-one", {"keys": [dict(r, e=b64u(b"\x01"))]})

# SPIFFE bundle format: CA certificates from the openssl CLI.


def openssl_ca(name, cn, key_type, ca=True):
    keyp = os.path.join(KDIR, name + ".key.pem")
    crtp = os.path.join(KDIR, name + ".crt.pem")
    if not os.path.exists(crtp):
        if key_type == "ec":
            subprocess.check_call(["openssl", "ecparam", "-name",
                                   "prime256v1", "-genkey", "-noout",
                                   "-out", keyp])
        else:
            subprocess.check_call(["openssl", "genrsa", "-out", keyp,
                                   "2048"], stderr=subprocess.DEVNULL)
        ext = ("basicConstraints=critical,CA:TRUE\n"
               "keyUsage=critical,keyCertSign,cRLSign\n"
               "subjectAltName=URI:spiffe://example.org\n") if ca else (
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "subjectAltName=URI:spiffe://example.org/leaf\n")
        with tempfile.NamedTemporaryFile("w", suffix=".cnf",
                                         delete=False) as f:
            f.write("[req]\ndistinguished_name=dn\nprompt=no\n"
                    "[dn]\nCN=%s\n[ext]\n%s" % (cn, ext))
            cnf = f.name
        try:
            subprocess.check_call([
                "openssl", "req", "-x509", "-new", "-key", keyp, "-sha256",
                "-days", "3650", "-set_serial", "1",
                "-subj", "/O=SPIFFE/CN=" + cn, "-config", cnf,
                "-extensions", "ext", "-out", crtp])
        finally:
            os.unlink(cnf)
    with open(crtp, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return cert


ca1 = openssl_ca("ca1", "ca1", "ec")
ca2 = openssl_ca("ca2", "ca2", "rsa")
leaf = openssl_ca("leaf", "leaf", "ec", ca=False)


def der_b64(cert):
    return base64.b64encode(cert.public_bytes(
        serialization.Encoding.DER)).decode()


def x509_entry(cert, *more):
    e = jwk(cert.public_key(), use="x509-svid")
    e["x5c"] = [der_b64(cert)] + [der_b64(m) for m in more]
    return e


for c, n in ((ca1, "ca1"), (ca2, "ca2"), (leaf, "leaf")):
    write(os.path.join(BDIR, n + ".der.b64"), der_b64(c) + "\n")

valid_keys = [x509_entry(ca1), x509_entry(ca2),
              jwk(KEYS["ec256"], "ec256", "jwt-svid"),
              jwk(KEYS["rsa2048"], "rsa2048", "jwt-svid")]
dump("spiffe-valid", {"keys": valid_keys, "spiffe_sequence": 42,
                      "spiffe_refresh_hint": 300})
dump("spiffe-x5c-two-certs", {"keys": [x509_entry(ca1, ca2)]})
dump("spiffe-no-keys", {"spiffe_refresh_hint": 60, "spiffe_sequence": 1})
dump("spiffe-keys-null", {"keys": None})
dump("spiffe-empty-keys", {"keys": []})
dump("spiffe-unknown-use", {"keys": [
    jwk(KEYS["ec256"], "a", "X509-SVID"),
    jwk(KEYS["ec384"], "b", "JWT-SVID"),
    jwk(KEYS["ec521"], "c", "foo"),
    jwk(KEYS["rsa2048"], "d"),
    jwk(KEYS["rsa3072"], "rsa3072", "jwt-svid")]})
dump("spiffe-missing-kid", {"keys": [jwk(KEYS["ec256"], "ec256",
                                         "jwt-svid"),
                                     jwk(KEYS["ec384"], use="jwt-svid")]})
dump("spiffe-unknown-kty", {"keys": [
    {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "use": "jwt-svid",
     "x": b64u(bytes(32))},
    {"kty": "oct", "kid": "o", "use": "jwt-svid", "k": "c2VjcmV0"},
    jwk(KEYS["ec256"], "ec256", "jwt-svid")]})
no_x5c = jwk(ca1.public_key(), use="x509-svid")
dump("spiffe-x5c-missing", {"keys": [no_x5c, dict(no_x5c, x5c=[]),
                                     jwk(KEYS["ec256"], "ec256",
                                         "jwt-svid")]})
dump("spiffe-x5c-not-ca", {"keys": [x509_entry(leaf)]})
dump("spiffe-x5c-key-mismatch", {"keys": [dict(x509_entry(ca1),
                                               **{kk: vv for kk, vv in
                                                  jwk(KEYS["ec256"]).items()
                                                  if kk in "xy"})]})
dump("spiffe-x5c-bad-b64", {"keys": [dict(x509_entry(ca1),
                                          x5c=["not base64!"])]})
dump("spiffe-x5c-url-b64", {"keys": [dict(x509_entry(ca1), x5c=[
    base64.urlsafe_b64encode(ca1.public_bytes(
        serialization.Encoding.DER)).decode().rstrip("=")])]})
# JSON may escape '/' as "\/" (PHP does): same certificate after decoding.
write(os.path.join(BDIR, "spiffe-x5c-escaped-slash.json"),
      json.dumps({"keys": [x509_entry(ca2)]}).replace("/", "\\/") + "\n")
dump("spiffe-sequence-max", {"keys": [], "spiffe_sequence":
                             18446744073709551615,
                             "spiffe_refresh_hint": -5})
write(os.path.join(BDIR, "spiffe-sequence-negative.json"),
      '{"keys":[],"spiffe_sequence":-1}\n')
write(os.path.join(BDIR, "spiffe-sequence-fraction.json"),
      '{"keys":[],"spiffe_sequence":1.5}\n')
write(os.path.join(BDIR, "spiffe-sequence-overflow.json"),
      '{"keys":[],"spiffe_sequence":18446744073709551616}\n')
write(os.path.join(BDIR, "spiffe-refresh-hint-string.json"),
      '{"keys":[],"spiffe_refresh_hint":"300"}\n')
write(os.path.join(BDIR, "spiffe-duplicate-member.json"),
      '{"keys":[],"spiffe_sequence":1,"spiffe_sequence":2}\n')
print("wrote %d tokens to %s and bundles to %s" %
      (len(vectors), JDIR, BDIR))
