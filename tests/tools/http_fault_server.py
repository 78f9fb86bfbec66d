#!/usr/bin/env python3
"""A small HTTP/1.1 file server that misbehaves on purpose, for ferry's
HTTP transport tests (python3 standard library only).

    http_fault_server.py --root DIR --port-file FILE [MODE...]

Serves the files under DIR on 127.0.0.1 (GET and HEAD, Range requests with
one range, ETag and Last-Modified, keep-alive) on a free port, which it
writes to FILE once it listens.  Modes:

    --drop-after N --drop-times K
        the first K GET answers that are longer than N bytes send N bytes
        of the body and then reset the connection
    --fail-503 K       the first K requests (any method) answer 503
    --fail-503-skip M  ...counting from the (M+1)th request
    --etag-change-after N
        from the (N+1)th request on, the ETag is a different one
    --no-range         ignore Range: always 200 with the whole body, no
                       Accept-Ranges header
    --no-head          answer HEAD with 405 (as URLs signed for GET do)
    --proxy            also accept absolute-form targets (GET http://h/p),
                       as a forward proxy would receive them
    --log FILE         one line per request: method target range status
"""

import argparse
import email.utils
import http.server
import os
import socket
import struct
import sys
import threading


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.drops = 0
        self.fails = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def note(self, line):
        if self.log:
            with self.lock:
                self.log.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-fault/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _path(self):
        target = self.path
        st = self.server.state
        if "://" in target:
            if not st.args.proxy:
                return None
            target = "/" + target.split("://", 1)[1].split("/", 1)[-1]
        target = target.split("?", 1)[0].split("#", 1)[0]
        from urllib.parse import unquote
        rel = unquote(target).lstrip("/")
        full = os.path.realpath(os.path.join(st.args.root, rel))
        root = os.path.realpath(st.args.root)
        if not full.startswith(root + os.sep):
            return None
        return full

    def _simple(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.state.note("%s %s - %d" % (self.command, self.path, code))

    def _reset(self):
        # An abortive close: the client sees a connection reset.
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def do_HEAD(self):
        if self.server.state.args.no_head:
            return self._simple(405, b"")
        self.serve(head=True)

    def do_GET(self):
        self.serve(head=False)

    def serve(self, head):
        st = self.server.state
        a = st.args
        with st.lock:
            st.requests += 1
            nreq = st.requests
            fail = nreq > a.fail_503_skip and st.fails < a.fail_503
            if fail:
                st.fails += 1
        if fail:
            return self._simple(503, b"try again later\n")
        path = self._path()
        if path is None or not os.path.isfile(path):
            return self._simple(404, b"not found\n")
        size = os.path.getsize(path)
        mtime = os.path.getmtime(path)
        etag = '"%x-%x"' % (int(mtime), size)
        if a.etag_change_after is not None and nreq > a.etag_change_after:
            etag = '"changed-%x"' % size
        rng = self.headers.get("Range")
        start, end, code = 0, size - 1, 200
        if rng and not a.no_range:
            try:
                unit, spec = rng.split("=", 1)
                s, e = spec.split(",")[0].strip().split("-", 1)
                if unit.strip() != "bytes":
                    raise ValueError
                if s == "":
                    start, end = max(0, size - int(e)), size - 1
                else:
                    start = int(s)
                    end = min(int(e), size - 1) if e else size - 1
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    st.note("%s %s %s 416" % (self.command, self.path, rng))
                    return
                code = 206
            except ValueError:
                start, end, code = 0, size - 1, 200
        length = end - start + 1 if size else 0
        self.send_response(code)
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified",
                         email.utils.formatdate(mtime, usegmt=True))
        if not a.no_range:
            self.send_header("Accept-Ranges", "bytes")
        if code == 206:
            self.send_header("Content-Range",
                             "bytes %d-%d/%d" % (start, end, size))
        self.end_headers()
        st.note("%s %s %s %d" % (self.command, self.path, rng or "-", code))
        if head or length == 0:
            return
        # A drop counts when it happens (a client that hangs up first, as
        # after a probing request, does not use one up).
        limit = a.drop_after if a.drop_after is not None \
            and length > a.drop_after else None
        sent = 0
        with open(path, "rb") as f:
            f.seek(start)
            while sent < length:
                n = min(256 * 1024, length - sent)
                if limit is not None:
                    if sent >= limit:
                        with st.lock:
                            drop = st.drops < a.drop_times
                            if drop:
                                st.drops += 1
                        if drop:
                            st.note("drop after %d bytes" % sent)
                            return self._reset()
                        limit = None
                    else:
                        n = min(n, limit - sent)
                buf = f.read(n)
                if not buf:
                    return self._reset()
                try:
                    self.wfile.write(buf)
                except OSError:
                    self.close_connection = True
                    return
                sent += len(buf)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients hanging up mid-answer are part of the game.
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            super().handle_error(request, client_address)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--drop-after", type=int)
    p.add_argument("--drop-times", type=int, default=1)
    p.add_argument("--fail-503", type=int, default=0)
    p.add_argument("--fail-503-skip", type=int, default=0)
    p.add_argument("--etag-change-after", type=int)
    p.add_argument("--no-range", action="store_true")
    p.add_argument("--no-head", action="store_true")
    p.add_argument("--proxy", action="store_true")
    p.add_argument("--log")
    args = p.parse_args()

    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
