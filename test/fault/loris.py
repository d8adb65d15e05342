#!/usr/bin/python3
"""A slow-loris client: holds a connection with an unfinished request.

Usage: loris.py PORT (tls|tcp) [SECONDS]

tls: a TLS handshake, then half a request line; tcp: a TCP connection
that sends nothing, not even a ClientHello.  Then waits (at most
SECONDS, default 30) for the server to close the connection and prints
the milliseconds from connect to close, or "OPEN" if it never did.
"""
import socket
import ssl
import sys
import time


def main():
    port = int(sys.argv[1])
    mode = sys.argv[2]
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 30
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=secs)
    if mode == "tls":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["http/1.1"])
        s = ctx.wrap_socket(s, server_hostname="localhost")
        s.sendall(b"GET / HTTP/1.1\r\nHo")
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        print("OPEN")
        return 1
    except (OSError, ssl.SSLError):
        pass
    print(int((time.monotonic() - t0) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
