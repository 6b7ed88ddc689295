"""The HTTP front end of `serve`: gunicorn's gthread worker, hardened against slow and idle clients.

gthread hands every new connection to a thread, which then blocks until the client has sent a
whole request head (and, later, each piece of the body): 16 idle or trickling connections took
all 16 threads. Here the worker's event loop reads ahead instead, without a thread, until the
request head and the first bytes of its body (``PREREAD``, or the whole body when smaller) have
arrived; only then does a thread run the request. Connections that send no request, or too
slowly, are closed after ``HEAD_SECONDS`` (a 408 when part of a head arrived). Threads read the
rest of a body with a deadline per read (``READ_SECONDS``) and a minimum average rate
(``MIN_RATE``): a body that stalls or trickles breaks off, and the part upload keeps the bytes
that arrived for the client to resume (tus). Errors gunicorn answers itself (request line too
long, bad request line, headers too large) are JSON like the API's.
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
HEAD_SECONDS = 20.0  # to send a request head (and PREREAD) once connected or kept alive
READ_SECONDS = 30.0  # a thread waits this long for each read of a body, and each write
MIN_RATE = 1024  # bytes/s a body must average once a thread reads it for READ_SECONDS
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding:.*chunked", re.I | re.M)
_EXPECT_CONTINUE = re.compile(rb"^expect:[ \t]*100-continue[ \t]*\r?$", re.I | re.M)
_REASONS = {400: "Bad Request", 408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 500: "Internal Server Error"}


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def request_size(data, scanned=0):
    """How many bytes of a connection's ``data`` must arrive before a thread takes the request:
    its head and the first PREREAD bytes of its body (or the whole body when shorter). None
    while the head is incomplete (``scanned``: bytes already searched for its end). Raises
    RequestError for a head that is too large; anything else wrong with it is left to gunicorn.
    A chunked body (OpenScan3 streams parts so) is ready at PREREAD bytes or at its last chunk."""
    if len(data) > MAX_REQUEST_LINE and data.find(b"\r\n", 0, MAX_REQUEST_LINE + 2) < 0:
        raise RequestError(414, f"the request line is longer than {MAX_REQUEST_LINE} bytes")
    head_end = data.find(b"\r\n\r\n", max(scanned - 3, 0))
    if head_end < 0:
        if len(data) > MAX_HEAD:
            raise RequestError(431, f"the request head is longer than {MAX_HEAD} bytes")
        return None
    head, body_start = data[:head_end + 2], head_end + 4
    if _CHUNKED.search(head):
        return body_start + PREREAD
    lengths = _CONTENT_LENGTH.findall(head)
    return body_start + min(int(lengths[-1]) if lengths else 0, PREREAD)


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
    """A client socket whose blocking mode (a thread's) has a deadline per read and write, and
    that ends a body arriving slower than MIN_RATE on average: a thread is not held by a client
    that sent PREREAD quickly and trickles after it. A body that is cut ends (EOF) rather than
    fails, so the app gets every byte that arrived (an upload stages them for a resume)."""
    _since, _got = None, 0

    def setblocking(self, flag):
        if flag:
            self.settimeout(READ_SECONDS)
        else:  # back to the event loop: the next thread measures afresh
            super().setblocking(False)
            self._since = None

    def recv(self, size, flags=0):
        try:
            data = super().recv(size, flags)
        except TimeoutError:  # no byte for READ_SECONDS
            return self._cut(b"")
        if self.gettimeout():
            now = time.monotonic()
            if self._since is None:
                self._since, self._got = now, 0
            self._got += len(data)
            if now - self._since > READ_SECONDS and self._got < MIN_RATE * (now - self._since):
                return self._cut(data)
        return data

    def _cut(self, data):
        try:
            self.shutdown(socket.SHUT_RD)  # every later read is the end of the body
        except OSError:
            pass
        return data


class Worker(ThreadWorker):
    """gthread, reading ahead in its event loop (see the module's docstring)."""

    def init_process(self):
        util.write_error = _write_json_error
        super().init_process()

    def accept(self, listener):
        """Accept what is queued (a batch: a flood of connections must not outpace us)."""
        for _ in range(64):
            if self.nr_conns >= self.worker_connections:
                return
            try:
                client, addr = listener.accept()
            except BlockingIOError:
                return
            except OSError:  # e.g. ECONNABORTED: the client gave up while queued
                continue
            client = _DeadlineSocket(client.family, client.type, client.proto,
                                     fileno=client.detach())
            self.nr_conns += 1
            self.enqueue_req(TConn(self.cfg, client, addr, listener.getsockname()))

    def enqueue_req(self, conn):
        """Every path to a thread (new connection, kept alive, pipelined) comes here."""
        if getattr(conn, "ready", False):
            conn.ready = False
            super().enqueue_req(conn)
            return
        conn.ahead = bytearray(conn.parser.unreader.take_buffered() if conn.parser else b"")
        conn.need = None
        conn.timeout = time.monotonic() + HEAD_SECONDS
        self.pending_conns.append(conn)  # stays sorted: every entry gets the same delay
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read_ahead, conn))
        self._check_ahead(conn, 0)

    def _read_ahead(self, conn, _sock=None):
        try:
            data = conn.sock.recv(64 << 10, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client is gone (or sends no more): a part keeps what arrived
            self._dispatch(conn) if conn.need is not None else self._drop(conn)
            return
        conn.ahead += data
        self._check_ahead(conn, len(conn.ahead) - len(data))

    def _check_ahead(self, conn, scanned):
        if conn.need is None:
            try:
                conn.need = request_size(conn.ahead, scanned)
            except RequestError as e:
                self.log.warning("Invalid request from ip=%s: %s", conn.client[0], e.message)
                self._drop(conn, error_response(e.status, e.message))
                return
            if conn.need is None:
                return
            if _EXPECT_CONTINUE.search(conn.ahead, 0, conn.need) and len(conn.ahead) < conn.need:
                # the client waits for this before its body; gunicorn may send another (harmless)
                _send(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")
        if len(conn.ahead) >= conn.need or conn.ahead.endswith(b"\r\n0\r\n\r\n"):
            self._dispatch(conn)

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
        now = time.monotonic() if self.alive else float("inf")  # stopping: all of them now
        while self.pending_conns and self.pending_conns[0].timeout <= now:
            conn = self.pending_conns[0]
            if conn.need is not None:
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
