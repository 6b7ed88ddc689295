"""Slow and idle clients against `openscan-cloud serve` on loopback: `/status` latency p50/p99 and
a full 20 MB part upload's time, with no other connections and then with SLOW connections
trickling (half request heads, half part bodies, one byte each every 2 s) and IDLE connections
open. Prints both and their ratios. Stops by itself (timeouts count as their timeout).

    python bench/slow_clients.py [--slow 200] [--idle 200] [--requests 200]
"""
import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.backend.helpers import Client  # noqa: E402
from tests.backend.server import Server  # noqa: E402

PART = 20_000_000
TIMEOUT = 10.0  # a request that takes longer counts as this long
BUDGET = 60.0  # seconds of /status requests at most per measurement


def upload_link(client, name):
    return client.call("createProject", project=name, photos=3, parts=1,
                       filesize=PART).json()["ulink"][0]


def measure(server, link, count):
    """(p50, p99 of /status in seconds, seconds for one 20 MB part upload to ``link``)."""
    latencies, deadline = [], time.monotonic() + BUDGET
    while len(latencies) < count and time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            requests.get(f"{server.url}/status", timeout=TIMEOUT).raise_for_status()
            latencies.append(time.perf_counter() - start)
        except requests.RequestException:
            latencies.append(TIMEOUT)
    start = time.perf_counter()
    try:
        requests.post(link, data=b"\0" * PART, timeout=60).raise_for_status()
        upload = time.perf_counter() - start
    except requests.RequestException:
        upload = 60.0
    q = statistics.quantiles(latencies + latencies[-1:], n=100)
    return q[49], q[98], upload


def open_slow(server, client, slow, idle):
    """Opens the connections; returns (sockets, stop event, trickling thread)."""
    host, port = server.url.split("//")[1].split(":")
    links = client.call("createProject", project="slow.zip", photos=3, parts=slow // 2,
                        filesize=slow // 2 * PART).json()["ulink"]
    heads = [f"GET /status HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()] * (slow - len(links))
    bodies = [f"POST /{link.split('/', 3)[3]} HTTP/1.1\r\nHost: {host}:{port}\r\n"
              f"Content-Length: {PART}\r\n\r\n".encode() for link in links]
    socks = []
    for first in heads + bodies + [b""] * idle:
        sock = socket.create_connection((host, int(port)))
        sock.sendall(first)
        socks.append(sock)
    stop = threading.Event()

    def trickle():
        while not stop.wait(2.0):
            for sock in socks[:slow]:
                try:
                    sock.send(b"x")
                except OSError:
                    pass
    sender = threading.Thread(target=trickle)
    sender.start()
    time.sleep(1.0)  # let the server see them all
    return socks, stop, sender


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp), {"PART_SIZE": PART}, worker=False)
        try:
            client = Client(server.url, server.token())
            links = [upload_link(client, name) for name in ("warm-up.zip", "quiet.zip", "busy.zip")]
            measure(server, links[0], 20)
            quiet = measure(server, links[1], args.requests)
            socks, stop, sender = open_slow(server, client, args.slow, args.idle)
            try:
                busy = measure(server, links[2], args.requests)
            finally:
                stop.set()
                sender.join()
                for sock in socks:
                    sock.close()
        finally:
            server.stop()
    print(f"{'':28} {'/status p50':>12} {'/status p99':>12} {'20 MB upload':>13}")
    print(f"{'no other connections':28} " + " ".join(f"{v:>11.4f}s" for v in quiet))
    print(f"{f'{args.slow} slow + {args.idle} idle':28} " + " ".join(f"{v:>11.4f}s" for v in busy))
    print(f"{'ratio':28} " + " ".join(f"{b / q:>11.2f}x" for b, q in zip(busy, quiet)))


if __name__ == "__main__":
    main()
