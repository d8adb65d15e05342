#!/usr/bin/python3
"""Opens many TLS connections to one server at once.

Usage: flood.py HOST PORT COUNT [--header FIELD]... [--tcp-only]
       [--hold SECONDS]

Every TCP connection is started before any is waited for.  Once all are
connected (or failed), the TLS handshakes run side by side, then each
connection that finished its handshake sends a GET / (with each FIELD,
as "Name: value") and
reads the status line of the answer.  Prints one line:

  CONNECTED c FAILED f SERVED s REFUSED r STATUS code:n ...

c connects the kernel completed, f that it did not; s connections that
got an HTTP status line, r that the server closed (or reset) before one.
With --tcp-only no handshakes are made: once the server has accepted
every connection (none half-open or in its accept queue, as
/proc/net/tcp shows), a connection still open 1 s later counts as
served if the server holds its other end, one closed as refused.  One
open whose other end the server never got counts as DROPPED: the
kernel's accept queue was full when its handshake ended, and (with SYN
cookies) it keeps no state for it.  With --hold the
connections stay open that many seconds after the line is printed.
Peer certificates are not checked: this is about load, not trust.
"""
import argparse
import errno
import selectors
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--tcp-only", action="store_true")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    sel = selectors.DefaultSelector()

    socks = []
    failed = 0
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((a.host, a.port))
        if rc not in (0, errno.EINPROGRESS):
            failed += 1
            s.close()
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, "connect")

    # Wait for every connect to finish.
    pending = len(socks)
    live = []
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            sel.unregister(s)
            pending -= 1
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                live.append(s)
            else:
                failed += 1
                s.close()
    connected = len(live)

    served = refused = 0
    statuses = {}
    if a.tcp_only:
        # Connections the kernel has not handed to the server yet (in
        # its accept queue, or half-open after the queue overflowed and
        # the final ACK was dropped) are neither held nor refused: wait
        # until there are none, then for the closes to arrive.
        while time.monotonic() < deadline and unaccepted(a.port):
            time.sleep(0.2)
        time.sleep(1)
        held = server_side(a.port)
        dropped = 0
        for s in live:
            try:
                d = s.recv(1)
                refused += d == b""
                served += d != b""
            except BlockingIOError:
                if s.getsockname()[1] in held:
                    served += 1
                else:
                    dropped += 1
            except OSError:
                refused += 1
        report(connected, failed, served, refused, statuses,
               dropped=dropped)
        hold(a.hold, live)
        return

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    conns = {}
    for s in live:
        t = ctx.wrap_socket(s, server_hostname=a.host,
                            do_handshake_on_connect=False)
        conns[t] = {"state": "hs", "buf": b""}
        sel.register(t, selectors.EVENT_READ | selectors.EVENT_WRITE)
    req = ("GET / HTTP/1.1\r\nHost: localhost\r\n" + "".join(
        h + "\r\n" for h in a.header) + "\r\n").encode()
    done = []
    while conns and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            t = key.fileobj
            st = conns[t]
            try:
                if st["state"] == "hs":
                    t.do_handshake()
                    st["state"] = "req"
                    t.sendall(req)
                    st["state"] = "resp"
                    sel.modify(t, selectors.EVENT_READ)
                    continue
                d = t.recv(4096)
                if d == b"":
                    raise ConnectionResetError
                st["buf"] += d
                if b"\r\n" in st["buf"]:
                    line = st["buf"].split(b"\r\n", 1)[0].decode()
                    code = line.split(" ")[1] if " " in line else line
                    statuses[code] = statuses.get(code, 0) + 1
                    served += 1
                    sel.unregister(t)
                    del conns[t]
                    done.append(t)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError):
                refused += 1
                sel.unregister(t)
                del conns[t]
                t.close()
    # What is left timed out: neither served nor refused.
    report(connected, failed, served, refused, statuses, len(conns))
    hold(a.hold, done + list(conns))


def unaccepted(port):
    """Connections to the listening port on 127.0.0.1 not yet accepted:
    half-open ones (SYN_RECV) and the listening socket's queue."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            v = line.split()
            lport = int(v[1].split(":")[1], 16)
            if lport != port:
                continue
            if v[3] == "03":                # SYN_RECV
                n += 1
            elif v[3] == "0A":              # LISTEN: rx_queue
                n += int(v[4].split(":")[1], 16)
    return n


def server_side(port):
    """The peer ports of the server's established connections."""
    peers = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            v = line.split()
            if v[3] == "01" and int(v[1].split(":")[1], 16) == port:
                peers.add(int(v[2].split(":")[1], 16))
    return peers


def report(connected, failed, served, refused, statuses, left=0,
           dropped=0):
    line = "CONNECTED %d FAILED %d SERVED %d REFUSED %d" % (
        connected, failed, served, refused)
    if dropped:
        line += " DROPPED %d" % dropped
    if left:
        line += " TIMEDOUT %d" % left
    if statuses:
        line += " STATUS " + " ".join(
            "%s:%d" % kv for kv in sorted(statuses.items()))
    print(line, flush=True)


def hold(secs, socks):
    if secs > 0:
        time.sleep(secs)
    for s in socks:
        s.close()


if __name__ == "__main__":
    sys.exit(main())
