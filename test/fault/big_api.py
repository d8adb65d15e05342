#!/usr/bin/python3
"""A Workload API whose every answer is one gRPC message of SIZE bytes.

Usage: big_api.py SOCKET SIZE

Serves python3-grpcio on the Unix socket SOCKET (no send limit) and
answers each Workload API call, unary or streaming, with one message of
SIZE bytes: field 1 (length-delimited) filled with zeros, well-formed
protobuf whatever the response type.  Prints "READY" once listening.
"""
import sys
import time
from concurrent import futures

import grpc


def message(size):
    # tag 0x0a, a varint length, then the bytes: size in total.
    for lenlen in range(1, 6):
        n = size - 1 - lenlen
        v, enc = n, b""
        while v >= 0x80:
            enc += bytes([v & 0x7f | 0x80])
            v >>= 7
        enc += bytes([v])
        if len(enc) == lenlen:
            return b"\x0a" + enc + b"\0" * n
    raise ValueError(size)


def main():
    sock, size = sys.argv[1], int(sys.argv[2])
    msg = message(size)
    ident = lambda b: b  # noqa: E731

    def unary(req, ctx):
        return msg

    def stream(req, ctx):
        yield msg
        while ctx.is_active():
            time.sleep(0.1)

    handlers = {}
    for m in ("FetchX509SVID", "FetchX509Bundles", "FetchJWTBundles"):
        handlers[m] = grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=ident, response_serializer=ident)
    for m in ("FetchJWTSVID", "ValidateJWTSVID"):
        handlers[m] = grpc.unary_unary_rpc_method_handler(
            unary, request_deserializer=ident, response_serializer=ident)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_send_message_length", -1)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "SpiffeWorkloadAPI", handlers),))
    server.add_insecure_port("unix:" + sock)
    server.start()
    print("READY", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
