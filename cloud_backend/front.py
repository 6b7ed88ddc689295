"""The HTTP front end of `serve`: gunicorn's gthread worker, hardened against slow and idle clients.

gthread hands every new connection to a thread, which then blocks until the client has sent a
whole request head (and, later, each piece of the body): 16 idle or trickling connections took
all 16 threads. Here the worker's event loop reads ahead instead, without a thread, until the
request head and the first bytes of its body (``PREREAD``, or the whole body when smaller) have
arrived; only then does a thread run the request. Idle connections and slow heads are closed
after ``HEAD_SECONDS`` (a 408 when part of a head arrived). Threads read the rest of a body with
a deadline per read (``READ_SECONDS``): a body that stalls breaks off, and the part upload keeps
the bytes that arrived for the client to resume (tus). Errors gunicorn answers itself (request
line too long, bad request line, headers too large) are JSON like the API's.
"""
import json
import re
import selectors
import socket
import time
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_REQUEST_LINE = 64 << 10  # the Windows uploader sends one `filelist` value per photo
MAX_HEAD = MAX_REQUEST_LINE + (32 << 10)  # the request line plus its header fields
PREREAD = 16 << 10  # body bytes that must arrive before a thread takes the request
HEAD_SECONDS = 20.0  # to send a request head (and PREREAD), and to idle between requests
READ_SECONDS = 30.0  # a thread waits this long for each read of a body, and each write
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*$", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect:[ \t]*100-continue[ \t]*$", re.I | re.M)
_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 500: "Internal Server Error"}


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def request_ready(data):
    """Whether ``data`` (what a connection sent so far) holds a request head and its first body
    bytes. Returns True, or False to wait for more; raises RequestError for a head that is too
    large. Anything else wrong with the head is left to gunicorn's parser."""
    line_end = data.find(b"\r\n")
    if line_end > MAX_REQUEST_LINE or (line_end < 0 and len(data) > MAX_REQUEST_LINE):
        raise RequestError(414, f"the request line is longer than {MAX_REQUEST_LINE} bytes")
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        if len(data) > MAX_HEAD:
            raise RequestError(431, f"the request head is longer than {MAX_HEAD} bytes")
        return False
    lengths = _CONTENT_LENGTH.findall(data, 0, head_end + 2)
    body = int(lengths[-1]) if lengths else 0
    return len(data) - (head_end + 4) >= min(body, PREREAD)


def error_response(status, message, reason=None):
    """A complete HTTP response carrying ``{"error": message}``."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Error')}\r\n"
            "Connection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


def _write_json_error(sock, status, reason, message):
    """Replaces gunicorn.util.write_error (an HTML page) in the worker process."""
    message = message or reason
    util.write_nonblock(sock, error_response(status, message, reason))


def _send(sock, data):
    """Best effort, never blocking: for the event loop, which must not wait on one client."""
    try:
        sock.send(data, socket.MSG_DONTWAIT)
    except OSError:
        pass


class _DeadlineSocket(socket.socket):
    """A client socket whose blocking mode has a deadline per read and write."""

    def setblocking(self, flag):
        if flag:
            self.settimeout(READ_SECONDS)
        else:
            super().setblocking(False)


class Worker(ThreadWorker):
    """gthread, reading ahead in its event loop (see the module's docstring)."""

    def init_process(self):
        util.write_error = _write_json_error
        super().init_process()

    def accept(self, listener):
        try:
            client, addr = listener.accept()
        except BlockingIOError:
            return
        except OSError:  # e.g. ECONNABORTED: the client gave up while queued
            return
        client = _DeadlineSocket(client.family, client.type, client.proto, fileno=client.detach())
        self.nr_conns += 1
        self.enqueue_req(TConn(self.cfg, client, addr, listener.getsockname()))

    def enqueue_req(self, conn):
        """Every path to a thread (new connection, kept alive, pipelined) comes here."""
        if getattr(conn, "ready", False):
            conn.ready = False
            super().enqueue_req(conn)
            return
        conn.ahead = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.continued = False
        conn.timeout = time.monotonic() + HEAD_SECONDS
        self.pending_conns.append(conn)  # stays sorted: every entry gets the same delay
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))
        self._check_ahead(conn)

    def _read_ahead(self, conn, _sock=None):
        try:
            data = conn.sock.recv(64 << 10, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        conn.ahead += data
        self._check_ahead(conn)

    def _check_ahead(self, conn):
        try:
            ready = request_ready(conn.ahead)
        except RequestError as e:
            self.log.warning("Invalid request from ip=%s: %s", conn.client[0], e.message)
            self._drop(conn, error_response(e.status, e.message))
            return
        if ready:
            self._dispatch(conn)
        elif not conn.continued and _EXPECT_CONTINUE.search(conn.ahead.split(b"\r\n\r\n")[0]):
            # the client waits for this before its body; gunicorn may send another (harmless)
            conn.continued = True
            _send(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _unwatch(self, conn):
        self.pending_conns.remove(conn)
        self.poller.unregister(conn.sock)

    def _dispatch(self, conn):
        self._unwatch(conn)
        conn.init()
        conn.parser.unreader.unread(bytes(conn.ahead))
        conn.ahead, conn.data_ready, conn.ready = None, True, True
        self.enqueue_req(conn)

    def _drop(self, conn, response=b""):
        self._unwatch(conn)
        _send(conn.sock, response)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Connections past HEAD_SECONDS: a head that did not complete gets a 408; a complete
        head whose body trickles goes to a thread with what arrived, and the body ends there
        (the upload keeps those bytes for a resume, and answers how many it holds)."""
        now = time.monotonic()
        while self.pending_conns and self.pending_conns[0].timeout <= now:
            conn = self.pending_conns[0]
            if b"\r\n\r\n" in conn.ahead:
                try:
                    conn.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
                self._dispatch(conn)
            elif conn.ahead.strip():
                self._drop(conn, error_response(
                    408, f"the request head did not arrive within {HEAD_SECONDS:.0f} seconds"))
            else:
                self._drop(conn)  # idle: nothing to answer
