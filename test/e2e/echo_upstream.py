#!/usr/bin/python3
"""An HTTPS upstream written with Python's http.server and ssl, for the
end-to-end tests of the proxy: it answers every request with what it
received, so a test sees exactly what our proxy forwarded.

Response body: the request line, each header line as received, an empty
line, then the request body.  Response fields: Content-Type, X-Upstream,
X-Upstream-Peer (the proxy's address and port: the same port twice means
a connection kept alive), and hop-by-hop ones the proxy must drop
(Keep-Alive, Connection naming X-Upstream-Hop, X-Upstream-Hop itself).

Usage: echo_upstream.py CERT KEY   (prints "PORT n", serves until killed)
"""
import http.server
import ssl
import sys


class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n > 0 else b""
        out = (self.requestline + "\n").encode("latin-1")
        for k, v in self.headers.raw_items():
            out += ("%s: %s\n" % (k, v)).encode("latin-1")
        out += b"\n" + body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Upstream", "echo")
        self.send_header("X-Upstream-Peer", "%s:%d" % self.client_address)
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Connection", "X-Upstream-Hop")
        self.send_header("X-Upstream-Hop", "1")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, fmt, *args):
        pass


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
