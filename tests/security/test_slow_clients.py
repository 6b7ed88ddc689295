"""Slow and idle clients cannot stall `openscan-cloud serve` (issue 13.3): the front end reads
request heads and the first body bytes without a thread (cloud_backend/front.py)."""
import socket
import threading
import time

import pytest
import requests

from tests.backend.helpers import Client
from tests.backend.server import Server

SLOW_HEADS, SLOW_BODIES, IDLE = 20, 20, 60


def connect(url):
    host, port = url.rsplit("/", 1)[-1].split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(30)
    return sock


def answer_of(sock) -> str:
    """One whole HTTP answer: the head and Content-Length bytes of body may arrive in separate reads."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < body_length(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode()


def body_length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def trickle(socks, first, stop, every=0.5):
    """Send ``first[i]`` to each socket, then one more byte every ``every`` seconds until stop."""
    for sock, data in zip(socks, first):
        sock.sendall(data)
    while not stop.wait(every):
        for sock in socks:
            try:
                sock.send(b"x")
            except OSError:
                pass


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path, {"PART_SIZE": 1_000_000}, worker=False)
    yield srv
    srv.stop()


def status_latencies(url, count=20):
    latencies = []
    for _ in range(count):
        start = time.monotonic()
        r = requests.get(f"{url}/status", timeout=5)
        assert r.json() == {"status": "online"}
        latencies.append(time.monotonic() - start)
    return sorted(latencies)


def test_status_stays_fast_with_trickling_and_idle_connections(server):
    client = Client(server.url, server.token())
    links = client.create("slow.zip", b"\0" * SLOW_BODIES * 1_000_000, 1_000_000)["ulink"]
    host = server.url.split("//")[1]
    heads = [f"GET /getTokenInfo?token={client.token} HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()
             for _ in range(SLOW_HEADS)]
    bodies = [f"POST /{link.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}\r\n"
              "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n".encode()
              for link in links]
    idle = [connect(server.url) for _ in range(IDLE)]
    slow = [connect(server.url) for _ in range(SLOW_HEADS + SLOW_BODIES)]
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(slow, heads + bodies, stop))
    sender.start()
    try:
        time.sleep(1)  # let every slow and idle connection reach the server
        latencies = status_latencies(server.url)
    finally:
        stop.set()
        sender.join()
        for sock in idle + slow:
            sock.close()
    # Before: 16 threads, each taken by a slow or idle connection: /status timed out (5 s).
    assert latencies[len(latencies) // 2] < 0.5 and latencies[-1] < 2, latencies


@pytest.mark.slow
def test_slow_heads_time_out_and_trickled_parts_keep_their_bytes(server):
    from cloud_backend import front
    client = Client(server.url, server.token())
    links = client.create("cut.zip", b"\0" * 2_000_000, 1_000_000)["ulink"]
    heads = [f"POST /{link.split('/', 3)[3]} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
             .encode() for link in links]
    idle, slow_head, slow_body, fast_then_slow = (connect(server.url) for _ in range(4))
    slow_head.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")
    slow_body.sendall(heads[0] + b"\0" * 1000)  # less than front.PREREAD: no thread yet
    fast_then_slow.sendall(heads[1] + b"\0" * 20_000)  # a thread reads it, then a byte a second
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=([fast_then_slow], [b""], stop, 1.0))
    sender.start()
    try:
        time.sleep(front.HEAD_SECONDS + 2)
        assert idle.recv(100) == b""  # closed without an answer
        answer = answer_of(slow_head)
        assert answer.startswith("HTTP/1.1 408 ") and '{"error": "the request head did not' in answer
        answer = answer_of(slow_body)
        assert answer.startswith("HTTP/1.1 400 ") and "Upload-Offset 1000" in answer
        assert int(requests.head(links[0]).headers["Upload-Offset"]) == 1000  # kept for a resume
        # under front.MIN_RATE once a thread read it for front.READ_SECONDS: cut off, bytes kept
        answer = answer_of(fast_then_slow)
        held = int(requests.head(links[1]).headers["Upload-Offset"])
        assert answer.startswith("HTTP/1.1 400 ") and f"Upload-Offset {held}" in answer
        assert held >= 20_000
    finally:
        stop.set()
        sender.join()
