#!/usr/bin/python3
"""Seeds for test/fuzz/fuzz_agent_request.c: the frames a gRPC client
sends after its preface and SETTINGS (which the target sends itself),
prefixed by the one byte that picks the feed step (0: byte by byte...,
here 0xff: all at once, and 0x00 for one byte-at-a-time seed).

    python3 test/data/gen_agent_seeds.py test/fuzz/corpus/agent_request
"""
import os
import sys


def frame(typ, flags, stream, payload):
    return (len(payload).to_bytes(3, "big") + bytes([typ, flags]) +
            stream.to_bytes(4, "big") + payload)


def lit(name, value):
    """HPACK literal without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def headers(stream, path, extra=(), header=True, end=False):
    block = b"".join([
        lit(":method", "POST"), lit(":scheme", "http"),
        lit(":path", path), lit(":authority", "localhost"),
        lit("content-type", "application/grpc"), lit("te", "trailers"),
    ])
    if header:
        block += lit("workload.spiffe.io", "true")
    for k, v in extra:
        block += lit(k, v)
    return frame(1, 0x4 | (0x1 if end else 0), stream, block)


def data(stream, msg, end=True, flag=0):
    body = bytes([flag]) + len(msg).to_bytes(4, "big") + msg
    return frame(0, 0x1 if end else 0, stream, body)


def string(field, s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([field << 3 | 2, len(b)]) + b


API = "/SpiffeWorkloadAPI/"
SEEDS = {
    "x509": headers(1, API + "FetchX509SVID") + data(1, b""),
    "x509_bundles": headers(1, API + "FetchX509Bundles") + data(1, b""),
    "jwt_bundles": headers(1, API + "FetchJWTBundles") + data(1, b""),
    "jwt": headers(1, API + "FetchJWTSVID") +
    data(1, string(1, "spiffe://example.org/server") + string(1, "x")),
    "jwt_id": headers(1, API + "FetchJWTSVID") +
    data(1, string(1, "a") + string(2, "spiffe://example.org/b")),
    "validate": headers(1, API + "ValidateJWTSVID") +
    data(1, string(1, "a") + string(2, "eyJhbGciOiJFUzI1NiJ9.e30.AAAA")),
    "no_header": headers(1, API + "FetchX509SVID", header=False) +
    data(1, b""),
    "unknown": headers(1, API + "FetchWITSVID") + data(1, b""),
    "three_streams": headers(1, API + "FetchX509SVID") + data(1, b"") +
    headers(3, API + "FetchJWTBundles") + data(3, b"") +
    headers(5, API + "FetchJWTSVID") + data(5, string(1, "a")) +
    frame(3, 0, 3, b"\0\0\0\x08"),          # RST_STREAM CANCEL
    "compressed": headers(1, API + "FetchX509SVID",
                          extra=[("grpc-encoding", "gzip")]) +
    data(1, b"\x1f\x8b", flag=1),
    "two_messages": headers(1, API + "FetchX509SVID") +
    data(1, b"", end=False) + data(1, b""),
    "trailers": headers(1, API + "FetchX509SVID") + data(1, b"", end=False) +
    frame(1, 0x5, 1, lit("x-trailer", "1")),
    "window_ping": frame(8, 0, 0, b"\0\0\x10\0") +
    frame(6, 0, 0, b"12345678") + headers(1, API + "FetchX509SVID") +
    data(1, b""),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, body in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(b"\xff" + body)
    with open(os.path.join(out, "x509_bytewise"), "wb") as f:
        f.write(b"\x00" + SEEDS["x509"])


if __name__ == "__main__":
    main()
