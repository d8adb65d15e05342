#!/bin/sh
# gen.sh - captures HTTP/1.1 messages from independent implementations.
#
#   sh test/data/http1/gen.sh      (needs curl, wrk, python3)
#
# Requests: what curl and wrk send to a socket that records them.
# Responses: what Python's http.server answers.  test_http1 parses each
# file and checks the head and body it describes.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$tmp"' EXIT
port=18931
srv=

# Records the first connection that sends bytes into $1, answers 200.
capture() {
	out=$1
	shift
	rm -f "$tmp/ready"
	python3 - "$port" "$out" "$tmp/ready" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(sys.argv[1])))
s.listen(1)
open(sys.argv[3], 'w').close()
data = b''
while not data:                 # wrk opens a probe connection first
    c, _ = s.accept()
    c.settimeout(1.0)
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
open(sys.argv[2], 'wb').write(data)
c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
PY
	pid=$!
	while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
	"$@" > /dev/null 2>&1 || true
	wait $pid
}

u=http://127.0.0.1:$port
python3 -c 'print("".join(chr(97 + i % 26) for i in range(300)), end="")' \
	> "$tmp/body"
capture curl-get.http curl -s "$u/a?b=c" -H 'Authorization: Bearer x.y.z'
capture curl-post-form.http curl -s "$u/p" -d 'hello=world'
capture curl-chunked-upload.http curl -s "$u/c" \
	-H 'Transfer-Encoding: chunked' --data-binary "@$tmp/body"
capture curl-expect-100.http curl -s "$u/e" --expect100-timeout 0.2 \
	-H 'Expect: 100-continue' --data-binary "@$tmp/body"
capture curl-http10.http curl -s --http1.0 "$u/old"
capture wrk-get.http wrk -t1 -c1 -d1s -H 'Authorization: Bearer a.b.c' "$u/w"

# Responses from Python's http.server, HTTP/1.1 keep-alive.
cp "$tmp/body" "$tmp/f.txt"
rm -f "$tmp/ready"
python3 - "$port" "$tmp" <<'PY' &
import http.server, os, socketserver, sys
os.chdir(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
with socketserver.TCPServer(('127.0.0.1', int(sys.argv[1])), H) as s:
    open('ready', 'w').close()
    s.serve_forever()
PY
srv=$!
while [ ! -f "$tmp/ready" ]; do sleep 0.05; done
ask() { # request, file
	python3 - "$port" "$1" "$2" <<'PY'
import socket, sys
c = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
c.settimeout(1.0)
c.sendall(sys.argv[2].replace('|', '\r\n').encode())
data = b''
try:
    while True:
        d = c.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
open(sys.argv[3], 'wb').write(data)
PY
}
ask 'GET /f.txt HTTP/1.1|Host: a||GET /nope HTTP/1.1|Host: a||' \
	python-get-then-404.http
ask 'HEAD /f.txt HTTP/1.1|Host: a||' python-head.http
ims='If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT'
ask "GET /f.txt HTTP/1.1|Host: a|$ims||" python-not-modified.http
