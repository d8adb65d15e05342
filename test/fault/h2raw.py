#!/usr/bin/python3
"""Raw HTTP/2 frames to a server, to see how it refuses bad ones.

Usage: h2raw.py (--tls HOST:PORT | --unix PATH) CASE

Connects (TLS with ALPN h2, certificates not checked; or a Unix socket,
HTTP/2 with prior knowledge), sends the client preface and an empty
SETTINGS, then the frames of CASE:

  bigheaders N   HEADERS of a GET on stream 1 padded to N payload bytes
  bigdata N      HEADERS of a gRPC call on stream 1, then DATA of N bytes
  bigping N      a PING with N payload bytes (it must have 8)
  post N         HEADERS of a POST with content-length N on stream 1,
                 then DATA of N bytes, in frames of 16384 bytes as the
                 windows allow
  stall N [AUTH] N GETs of / (with "authorization: AUTH"), our stream
                 window 4 bytes: once every response has stalled after
                 its first 4 bytes of DATA, resets the connection
                 (SO_LINGER 0) and prints "PARTIAL k", k the streams
                 that got a partial body

and reads frames until the connection closes, printing each frame that
ends a stream or the connection, as

  GOAWAY <ERROR_NAME> last=<id>        RST_STREAM <ERROR_NAME> stream=<id>
  HEADERS stream=<id> <name>=<value> ... (each header field, decoded
  only if sent as literals or static-table entries; else "?")

then "END" once stream 1 ended or a GOAWAY came, "EOF" if the
connection closed first, or "TIMEOUT" after 10 s.
"""
import socket
import ssl
import struct
import sys
import time

ERRORS = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR",
          "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
          "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
          "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
          "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW, CONT = (
    0, 1, 3, 4, 6, 7, 8, 9)
END_STREAM, END_HEADERS, PADDED = 1, 4, 8


def frame(ftype, flags, sid, payload):
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       sid) + payload


def hint(v, prefix):
    """An HPACK integer with a prefix of that many bits (first byte 0)."""
    top = (1 << prefix) - 1
    if v < top:
        return bytes([v])
    out = [top]
    v -= top
    while v >= 128:
        out.append(v & 0x7f | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def block(fields):
    """Literal header fields without indexing, new names, no Huffman."""
    out = b""
    for n, v in fields:
        out += b"\x00" + hint(len(n), 7) + n + hint(len(v), 7) + v
    return out


# The static table entries a response can use (RFC 7541 appendix A).
STATIC = {8: (":status", "200"), 9: (":status", "204"),
          10: (":status", "206"), 11: (":status", "304"),
          12: (":status", "400"), 13: (":status", "404"),
          14: (":status", "500"), 31: ("content-type", "")}


def rint(b, i, prefix):
    top = (1 << prefix) - 1
    v = b[i] & top
    i += 1
    if v < top:
        return v, i
    m = 0
    while True:
        c = b[i]
        i += 1
        v += (c & 0x7f) << m
        m += 7
        if not c & 0x80:
            return v, i


def rstr(b, i):
    huff = b[i] & 0x80
    n, i = rint(b, i, 7)
    s = b[i:i + n]
    return ("?" if huff else s.decode("latin-1")), i + n


def decode(b):
    """What can be read without a dynamic table or Huffman decoding."""
    out, i = [], 0
    while i < len(b):
        c = b[i]
        if c & 0x80:
            idx, i = rint(b, i, 7)
            out.append(STATIC.get(idx, ("?", "?")))
            continue
        if c & 0xe0 == 0x20:        # table size update
            _, i = rint(b, i, 5)
            continue
        prefix = 6 if c & 0x40 else 4
        idx, i = rint(b, i, prefix)
        if idx:
            name = STATIC.get(idx, ("?", ""))[0]
        else:
            name, i = rstr(b, i)
        val, i = rstr(b, i)
        out.append((name, val))
    return out


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "--tls":
        host, port = sys.argv[2].rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection((host, int(port)), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        if s.selected_alpn_protocol() != "h2":
            print("NO_H2 %s" % s.selected_alpn_protocol())
            return 1
        authority = b"localhost"
        scheme = b"https"
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sys.argv[2])
        authority = b"localhost"
        scheme = b"http"
    case = sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    settings = b""
    if case == "stall":     # SETTINGS_INITIAL_WINDOW_SIZE 4
        settings = struct.pack(">HI", 4, 4)
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0,
                                                        settings)
    grpc_head = block([(b":method", b"POST"), (b":scheme", scheme),
                       (b":path", b"/SpiffeWorkloadAPI/FetchJWTSVID"),
                       (b":authority", authority),
                       (b"content-type", b"application/grpc"),
                       (b"te", b"trailers"),
                       (b"workload.spiffe.io", b"true")])
    if case == "bigheaders":
        f = [(b":method", b"GET"), (b":scheme", scheme),
             (b":path", b"/"), (b":authority", authority)]
        hb = block(f)
        if n > len(hb):
            # One more field whose value brings the block to n bytes.
            k = n - len(hb) - 1 - 1 - 5
            while len(block(f + [(b"x-pad", b"p" * k)])) > n:
                k -= 1
            hb = block(f + [(b"x-pad", b"p" * k)])
            while len(hb) < n:      # fill the odd bytes, if any, with
                hb += b"\x20"       # table size updates of 0
        out += frame(HEADERS, END_HEADERS | END_STREAM, 1, hb)
    elif case == "bigdata":
        out += frame(HEADERS, END_HEADERS, 1, grpc_head)
        out += frame(DATA, 0, 1, b"\0" * n)
    elif case == "post":
        out += frame(HEADERS, END_HEADERS, 1, block(
            [(b":method", b"POST"), (b":scheme", scheme),
             (b":path", b"/"), (b":authority", authority),
             (b"content-length", str(n).encode())]))
        # The first 64 KiB, what the default windows allow.
        for i in range(0, min(n, 65535), 16384):
            k = min(16384, n - i, 65535 - i)
            out += frame(DATA, END_STREAM if i + k == n else 0, 1,
                         b"\0" * k)
    elif case == "stall":
        f = [(b":method", b"GET"), (b":scheme", scheme),
             (b":path", b"/"), (b":authority", authority)]
        if len(sys.argv) > 5:
            f.append((b"authorization", sys.argv[5].encode()))
        for i in range(n):
            out += frame(HEADERS, END_HEADERS | END_STREAM, 2 * i + 1,
                         block(f))
        send(s, out)
        return stall(s, n)
    elif case == "bigping":
        out += frame(PING, 0, 0, b"\0" * n)
    else:
        print("unknown case %s" % case, file=sys.stderr)
        return 2
    send(s, out)
    buf = b""
    ended = False
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError, OSError):
            d = b""
        if not d:
            print("EOF")
            return 0
        buf += d
        while len(buf) >= 9:
            ln = buf[0] << 16 | buf[1] << 8 | buf[2]
            if len(buf) < 9 + ln:
                break
            ft, fl, sid = buf[3], buf[4], struct.unpack(">I",
                                                        buf[5:9])[0]
            p = buf[9:9 + ln]
            buf = buf[9 + ln:]
            if ft == GOAWAY:
                last, code = struct.unpack(">II", p[:8])
                print("GOAWAY %s last=%d" % (name(code), last))
                ended = True
            elif ft == RST:
                print("RST_STREAM %s stream=%d" % (
                    name(struct.unpack(">I", p[:4])[0]), sid))
                ended = ended or sid == 1
            elif ft == HEADERS:
                if fl & PADDED:
                    p = p[1:len(p) - p[0]]
                print("HEADERS stream=%d %s" % (sid, " ".join(
                    "%s=%s" % kv for kv in decode(p))))
                ended = ended or (sid == 1 and fl & END_STREAM)
            elif ft == DATA:
                ended = ended or (sid == 1 and fl & END_STREAM)
            elif ft == SETTINGS and not fl & 1:
                send(s, frame(SETTINGS, 1, 0, b""))
            elif ft == PING and not fl & 1:
                send(s, frame(PING, 1, 0, p))
        if ended:
            print("END")
            return 0
    print("TIMEOUT")
    return 1


def stall(s, n):
    """Reads until each of the n streams got DATA without END_STREAM,
    then resets the connection."""
    buf, partial = b"", set()
    deadline = time.monotonic() + 10
    while len(partial) < n and time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError):
            break
        if not d:
            break
        buf += d
        while len(buf) >= 9:
            ln = buf[0] << 16 | buf[1] << 8 | buf[2]
            if len(buf) < 9 + ln:
                break
            ft, fl = buf[3], buf[4]
            sid = struct.unpack(">I", buf[5:9])[0] & 0x7fffffff
            buf = buf[9 + ln:]
            if ft == DATA and ln > 0 and not fl & END_STREAM:
                partial.add(sid)
            elif ft == SETTINGS and not fl & 1:
                send(s, frame(SETTINGS, 1, 0, b""))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    s.close()
    print("PARTIAL %d" % len(partial))
    return 0


def send(s, b):
    try:
        s.sendall(b)
    except (OSError, ssl.SSLError):
        pass


def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([v & 0x7f | 0x80])
        v >>= 7
    return out + bytes([v])


def name(code):
    return ERRORS[code] if code < len(ERRORS) else "0x%x" % code


if __name__ == "__main__":
    sys.exit(main())
