#!/usr/bin/python3
"""gen_wlapi_seeds.py - seed corpora for fuzz_wlapi_response and
fuzz_grpc_frame, encoded by python3-protobuf (not by our code).

    T=$(mktemp -d)
    protoc -I proto -I /usr/include --python_out=$T proto/workload.proto
    WLAPI_PB_DIR=$T /usr/bin/python3 test/data/gen_wlapi_seeds.py

Writes test/fuzz/corpus/wlapi_response/ (byte 0 picks the message type:
0 X509SVIDResponse, 1 X509BundlesResponse, 2 JWTBundlesResponse,
3 JWTSVIDResponse, 4 ValidateJWTSVIDResponse, 5 a bare Struct) and
test/fuzz/corpus/grpc_frame/ (fuzz_grpc_frame's input layout).
"""
import os
import struct
import sys

sys.path.insert(0, os.environ.get("WLAPI_PB_DIR", "."))
import workload_pb2 as pb  # noqa: E402
from google.protobuf import struct_pb2  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
X = os.path.join(ROOT, "test", "data", "x509svid")
J = os.path.join(ROOT, "test", "data", "jwtsvid")
B = os.path.join(ROOT, "test", "data", "bundle")
OUT = os.path.join(ROOT, "test", "fuzz", "corpus")


def rd(d, f):
    with open(os.path.join(d, f), "rb") as fh:
        return fh.read()


def put(sub, name, data):
    os.makedirs(os.path.join(OUT, sub), exist_ok=True)
    with open(os.path.join(OUT, sub, name), "wb") as fh:
        fh.write(data)


def resp(kind, name, msg):
    put("wlapi_response", name, bytes([kind]) + msg.SerializeToString())


leaf, key = rd(X, "good-leaf.der"), rd(X, "good-leaf-key.der")
chain, ckey = rd(X, "good-chain.der"), rd(X, "good-chain-key.der")
root, bundle = rd(X, "root-ca.der"), rd(X, "bundle.der")
ID = "spiffe://example.org/workload"

r = pb.X509SVIDResponse(svids=[pb.X509SVID(
    spiffe_id=ID, x509_svid=leaf, x509_svid_key=key, bundle=root,
    hint="internal")])
r.federated_bundles["spiffe://a.test"] = root
r.federated_bundles["b.test"] = bundle
resp(0, "x509-good", r)
resp(0, "x509-chain", pb.X509SVIDResponse(svids=[pb.X509SVID(
    spiffe_id=ID, x509_svid=chain, x509_svid_key=ckey, bundle=bundle)]))
resp(0, "x509-dup-hint", pb.X509SVIDResponse(svids=[
    pb.X509SVID(spiffe_id=ID, x509_svid=leaf, x509_svid_key=key,
                hint="a"),
    pb.X509SVID(spiffe_id=ID, x509_svid=b"junk", hint="a")]))
resp(0, "x509-id-mismatch", pb.X509SVIDResponse(svids=[pb.X509SVID(
    spiffe_id="spiffe://example.org/other", x509_svid=leaf,
    x509_svid_key=key)]))
resp(0, "x509-empty", pb.X509SVIDResponse())
resp(0, "x509-crl", pb.X509SVIDResponse(crl=[b"x", b""], svids=[
    pb.X509SVID(spiffe_id=ID, x509_svid=leaf, x509_svid_key=key)]))

b = pb.X509BundlesResponse()
b.bundles["spiffe://example.org"] = bundle
b.bundles["a.test"] = b""
resp(1, "x509-bundles", b)

jb = pb.JWTBundlesResponse()
jb.bundles["spiffe://example.org"] = rd(B, "jwks-valid.json")
jb.bundles["a.test"] = rd(B, "jwks-unknown-kty.json")
resp(2, "jwt-bundles", jb)
jb = pb.JWTBundlesResponse()
jb.bundles["spiffe://example.org"] = rd(B, "jwks-no-use.json")
resp(2, "jwt-bundles-no-use", jb)

tok = rd(J, "es256-valid.jwt").decode().strip()
sub = "spiffe://example.org/client"
resp(3, "jwt-svid", pb.JWTSVIDResponse(svids=[
    pb.JWTSVID(spiffe_id=sub, svid=tok, hint="h"),
    pb.JWTSVID(spiffe_id=sub, svid="x", hint="h"),
    pb.JWTSVID(spiffe_id=sub, svid=tok)]))
resp(3, "jwt-svid-mismatch", pb.JWTSVIDResponse(svids=[
    pb.JWTSVID(spiffe_id="spiffe://example.org/x", svid=tok)]))

v = pb.ValidateJWTSVIDResponse(spiffe_id=sub)
v.claims.update({"sub": sub, "aud": ["spiffe://example.org/server"],
                 "exp": 1767229200, "iat": 1767225600.5,
                 "nested": {"a": [1, True, None, "s\u00e9"]}})
resp(4, "validate", v)
st = struct_pb2.Struct()
st.update({"k": {"l": [[[]], {}], "n": -0.0, "big": 1e300}})
put("wlapi_response", "struct", bytes([5]) + st.SerializeToString())


def frame(msg, flag=0):
    return bytes([flag]) + struct.pack(">I", len(msg)) + msg


def hdrs(pairs):
    out = b""
    for n, v in pairs:
        out += bytes([len(n)]) + n + bytes([len(v)]) + v
    return out


def grpc_seed(name, mode, body, pairs):
    put("grpc_frame", name, bytes([mode]) + struct.pack(">H", len(body)) +
        body + hdrs(pairs))


ok = [(b":status", b"200"), (b"content-type", b"application/grpc")]
grpc_seed("two-messages", 3, frame(b"abc") + frame(b""), ok)
grpc_seed("trailers-only", 0x80, b"", ok + [
    (b"grpc-status", b"7"), (b"grpc-message", b"no identity issued")])
grpc_seed("trailers-percent", 0, frame(b"x" * 40), [
    (b"grpc-status", b"3"),
    (b"grpc-message", b"security%20header %zz %E2%9C%93")])
grpc_seed("compressed", 1, frame(b"x", 1), ok)
grpc_seed("too-large", 1, b"\x00\x00\x01\x00\x00", ok)
grpc_seed("http-503", 0x80, b"", [(b":status", b"503")])
