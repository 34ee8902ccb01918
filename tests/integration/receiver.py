#!/usr/bin/env python3
"""A local Backtrace-like receiver for the delivery tests. Python 3 stdlib only.

In a test process:

    rx = Receiver(mode="ok")            # or mode=400, 429, 500, "hang"
    rx.start()                           # 127.0.0.1, ephemeral port
    ... rx.url ... rx.requests ... rx.set_mode(500) ...
    rx.stop()

`mode` decides the reply:
  "ok"     200 with {"response":"ok","_rxid":"<generated>"} (the rxid is kept
           in the request's record);
  an int   that status, with a small JSON body;
  "hang"   the request is read (and recorded), then never answered until the
           receiver stops;
  "headers_only"  "HTTP/1.1 200 OK" and its headers, with the Content-Length
           of an {"response":"ok",...} body that is never sent: the
           connection is held until the receiver stops;
  "partial_body"  the same headers, then the first half of that body, then
           the connection is closed.
`delay` (seconds) holds every answer back that long. `reply`, when set to
(status, body bytes), is the answer to every request instead (a hostile
server's rxid or error body).
With tls=True it serves HTTPS with a self-signed certificate for 127.0.0.1
made at start with the `openssl` command; failed handshakes are recorded in
tls_errors.

Every request is recorded (method, path with query, headers, raw body,
arrival times) in `requests`, in arrival order, once its body has been read.

As a script it runs one receiver in the foreground, prints "PORT <n>" on
stdout, and appends one JSON line per request to --log (arrival times, path,
the upload_file part's length): the benchmark uses it.

    receiver.py [--mode ok|hang|headers_only|partial_body|STATUS] [--tls] [--log FILE]
                [--retry-after VALUE]
"""

import argparse
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
from urllib.parse import parse_qs, urlsplit


class Request:
    def __init__(self, method, path, headers, body, mono, real, peer):
        self.method = method
        self.path = path          # path and query, exactly as sent
        self.headers = headers    # list of (name, value), as sent
        self.body = body          # raw bytes
        self.mono = mono          # time.monotonic() when the body was read
        self.real = real          # time.time() when the body was read
        self.peer = peer
        self.rxid = None          # the rxid we answered with (mode "ok")
        self.status = None        # the status we answered with (None: hung)

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def url_path(self):
        return urlsplit(self.path).path

    @property
    def query(self):
        """The decoded query, as parse_qs gives it (name -> [values])."""
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)

    @property
    def raw_query(self):
        return urlsplit(self.path).query

    def multipart(self):
        """The body's parts (see parse_multipart); raises ValueError."""
        return parse_multipart(self.header("Content-Type"), self.body)

    def __repr__(self):
        return "<%s %s, %d bytes, answered %s>" % (self.method, self.path, len(self.body),
                                                    self.status)


# ---------------------------------------------------------------------------
# multipart/form-data, parsed strictly (RFC 7578 / RFC 2046)


class Part:
    def __init__(self, headers, data):
        self.headers = headers  # list of (name, value)
        self.data = data        # raw bytes
        self.name = None
        self.filename = None
        self.disposition = None
        cd = self.header("Content-Disposition")
        if cd is not None:
            self.disposition, params = _parse_header_params(cd)
            self.name = params.get("name")
            self.filename = params.get("filename")

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    @property
    def content_type(self):
        return self.header("Content-Type")

    def __repr__(self):
        return "<part name=%r filename=%r type=%r %d bytes>" % (
            self.name, self.filename, self.content_type, len(self.data))


def _parse_header_params(value):
    """'form-data; name="a"; filename="b"' -> ("form-data", {"name": "a", ...})."""
    out = {}
    i = value.find(";")
    main = (value if i < 0 else value[:i]).strip().lower()
    rest = "" if i < 0 else value[i + 1:]
    while rest:
        rest = rest.lstrip(" \t;")
        if not rest:
            break
        eq = rest.find("=")
        if eq < 0:
            out[rest.strip().lower()] = ""
            break
        key = rest[:eq].strip().lower()
        rest = rest[eq + 1:].lstrip()
        if rest.startswith('"'):
            j, val = 1, []
            while j < len(rest) and rest[j] != '"':
                if rest[j] == "\\" and j + 1 < len(rest):
                    j += 1
                val.append(rest[j])
                j += 1
            out[key] = "".join(val)
            rest = rest[j + 1:]
        else:
            semi = rest.find(";")
            out[key] = (rest if semi < 0 else rest[:semi]).strip()
            rest = "" if semi < 0 else rest[semi:]
    return main, out


def parse_multipart(content_type, body):
    """Splits a multipart/form-data body into Parts, byte for byte. Raises
    ValueError, naming the problem, for anything malformed: no boundary, a
    body that does not start with the first delimiter, a part without the
    blank line after its headers, a missing close delimiter."""
    if not content_type:
        raise ValueError("no Content-Type header")
    kind, params = _parse_header_params(content_type)
    if kind != "multipart/form-data":
        raise ValueError("Content-Type is %r, not multipart/form-data" % content_type)
    boundary = params.get("boundary")
    if not boundary:
        raise ValueError("Content-Type has no boundary: %r" % content_type)
    delim = b"--" + boundary.encode("latin-1")
    if not body.startswith(delim):
        # RFC 2046 allows a preamble; curl never sends one. Allow it anyway,
        # but it must end in CRLF before the first delimiter.
        i = body.find(b"\r\n" + delim)
        if i < 0:
            raise ValueError("the body does not contain the boundary %r" % boundary)
        body = body[i + 2:]
    parts = []
    pos = len(delim)
    while True:
        # After a delimiter: "--" closes, CRLF opens a part.
        if body.startswith(b"--", pos):
            break
        if not body.startswith(b"\r\n", pos):
            raise ValueError("no CRLF after a boundary at byte %d" % pos)
        pos += 2
        hend = body.find(b"\r\n\r\n", pos)
        nxt = body.find(b"\r\n" + delim, pos)
        if nxt < 0:
            raise ValueError("part %d is not closed by a boundary" % len(parts))
        if hend < 0 or hend > nxt:
            # A part without headers starts with the blank line directly.
            if body.startswith(b"\r\n", pos):
                hend = pos - 2
            else:
                raise ValueError("part %d has no blank line after its headers" % len(parts))
        headers = []
        raw = body[pos:hend].decode("latin-1") if hend > pos else ""
        for line in raw.split("\r\n") if raw else []:
            if ":" not in line:
                raise ValueError("part %d: bad header line %r" % (len(parts), line))
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
        data = body[hend + 4:nxt]
        parts.append(Part(headers, data))
        pos = nxt + 2 + len(delim)
    return parts


# ---------------------------------------------------------------------------
# The server


def make_self_signed(dirpath, cn="127.0.0.1", timeout=60):
    """A key and a self-signed certificate for @cn (as IP and DNS SAN), made
    with the openssl command. Returns (certfile, keyfile)."""
    cert = os.path.join(dirpath, "cert.pem")
    key = os.path.join(dirpath, "key.pem")
    openssl = shutil.which("openssl")
    if not openssl:
        raise RuntimeError("the openssl command is not installed (.ci/packages lists it)")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=%s" % cn,
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "btcrash-test-receiver/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _handle(self):
        rx = self.server.receiver
        if (self.headers.get("Expect") or "").lower() == "100-continue":
            # http.server answers 100 itself only for HTTP/1.1 with
            # handle_expect_100; it does, via the default implementation.
            pass
        body = self._read_body()
        req = Request(self.command, self.path, list(self.headers.items()), body,
                      time.monotonic(), time.time(), self.client_address)
        with rx.lock:
            # A script of answers, one per request, before the mode's.
            mode = rx.script.pop(0) if rx.script else rx.mode
            rx.requests.append(req)
            rx.cond.notify_all()
        if mode == "hang":
            rx.stopping.wait()
            self.close_connection = True
            return
        if mode in ("headers_only", "partial_body"):
            # The server has the report, says so, and then its body does
            # not come (whole): the rxid never reaches the client.
            payload = json.dumps({"response": "ok", "_rxid": "rx-never-" + uuidlib.uuid4().hex})
            payload = payload.encode()
            req.status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if mode == "partial_body":
                self.wfile.write(payload[:len(payload) // 2])
            self.wfile.flush()
            if mode == "headers_only":
                rx.stopping.wait()
            self.close_connection = True
            return
        if rx.delay:
            time.sleep(rx.delay)
        if rx.reply is not None:
            status, payload = rx.reply
        elif mode == "ok":
            req.rxid = "rx-" + uuidlib.uuid4().hex
            payload = json.dumps({"response": "ok", "_rxid": req.rxid}).encode()
            status = 200
        else:
            status = int(mode)
            payload = json.dumps({"response": "error", "status": status}).encode()
        req.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in rx.extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    do_POST = _handle
    do_PUT = _handle
    do_GET = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        rx = self.receiver
        if rx.ssl_context is not None:
            try:
                request.settimeout(10)
                request = rx.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError) as e:
                with rx.lock:
                    rx.tls_errors.append(repr(e))
                    rx.cond.notify_all()
                return
        with rx.lock:
            rx.connections += 1
        self.RequestHandlerClass(request, client_address, self)

    def handle_error(self, request, client_address):
        pass  # a client that gives up mid-request is normal here


class Receiver:
    def __init__(self, mode="ok", tls=False, delay=0.0):
        self.mode = mode
        self.delay = delay  # seconds to wait before answering (not "hang")
        self.reply = None   # (status, body bytes): answer every request so (a hostile server)
        self.extra_headers = []  # (name, value) added to every answer (Retry-After)
        self.script = []  # modes for the next requests, one each, then self.mode
        self.tls = tls
        self.requests = []
        self.tls_errors = []
        self.connections = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.ssl_context = None
        self.certfile = None
        self._tmp = None
        self._server = None
        self._thread = None

    def start(self):
        if self.tls:
            self._tmp = tempfile.mkdtemp(prefix="btcrash-rx-tls-")
            self.certfile, keyfile = make_self_signed(self._tmp)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, keyfile)
            self.ssl_context = ctx
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                         kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls else "http", self.port)

    def set_mode(self, mode):
        self.mode = mode

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def wait_requests(self, n, timeout):
        """Waits until at least @n requests arrived or @timeout passed; returns
        the requests."""
        end = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < n:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return list(self.requests)

    def stop(self):
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def free_port():
    """A port on 127.0.0.1 where nothing listens (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--log", help="append one JSON line per request here")
    ap.add_argument("--retry-after", help="a Retry-After header on every answer")
    a = ap.parse_args()
    mode = a.mode if a.mode in ("ok", "hang", "headers_only", "partial_body") else int(a.mode)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    rx = Receiver(mode=mode, tls=a.tls)
    if a.retry_after:
        rx.extra_headers = [("Retry-After", a.retry_after)]
    rx.start()
    print("PORT %d" % rx.port, flush=True)
    seen = 0
    try:
        while True:
            reqs = rx.wait_requests(seen + 1, 1.0)
            for r in reqs[seen:]:
                upload = count = None
                try:
                    for p in r.multipart():
                        if p.name == "upload_file":
                            upload = len(p.data)
                            count = json.loads(p.data).get("attributes", {}).get("crash.count")
                except ValueError:
                    pass
                if a.log:
                    with open(a.log, "a") as f:
                        f.write(json.dumps({"real": r.real, "mono": r.mono, "path": r.path,
                                            "bytes": len(r.body), "upload_file": upload,
                                            "crash_count": count}) + "\n")
            seen = len(reqs)
    except KeyboardInterrupt:
        pass
    finally:
        rx.stop()


if __name__ == "__main__":
    sys.exit(main())
