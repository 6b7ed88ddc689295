"""Webhooks as a receiver sees them: a signed JSON POST when a project ends, to the project's
URL or its token's default, retried while the receiver is down, never holding up the result."""
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from .helpers import Client, make_zip
from .server import cli, free_port
from .test_jobs import PIPELINE, done, watch

SETTINGS = {**PIPELINE, "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_BACKOFF": "0.5",
            "WEBHOOK_ATTEMPTS": "6"}


def verify(secret, body, header):
    """What a receiver does (the example in docs/protocol.md)."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


class Receiver:
    """An HTTP server on loopback that records every POST; ``delay`` seconds before answering."""

    def __init__(self, port=None, delay=0.0, status=200):
        self.port, self.delay, self.status = port or free_port(), delay, status
        self.received, self.answered = [], threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body, self.path))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.end_headers()
                receiver.answered.set()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hook?from=test"

    def wait(self, count=1, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"{len(self.received)} webhook(s) arrived"
        return self.received

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=4).read_bytes()


def set_default_webhook(server, token, url):
    """`openscan-cloud token webhook`; returns the signing secret it prints."""
    env = {k: v for k, v in server.env.items() if k.startswith("OPENSCAN_CLOUD_")}
    out = cli(server.data_dir, "token", "webhook", token, url, env=env)
    return out.strip().splitlines()[-1].removeprefix("signing secret: ")


def test_the_tokens_webhook_gets_a_signed_report_of_the_result(start_server, receivers, data):
    server, receiver = start_server(SETTINGS), receivers()
    client = Client(server.url, server.token())
    secret = set_default_webhook(server, client.token, receiver.url)
    client.upload_all("owl.zip", data, 200_000_000)
    final = watch(client, "owl.zip", done)[-1]
    [(headers, body, path)] = receiver.wait()
    assert path == "/hook?from=test"
    assert verify(secret, body, headers["X-OpenScan-Signature"])
    assert not verify(secret, body + b" ", headers["X-OpenScan-Signature"])
    assert headers["X-OpenScan-Event"] == "project.done"
    event = json.loads(body)
    assert event["project"] == "owl.zip" and event["status"] == "processing done"
    assert event["dlink"] == final["dlink"] and requests.get(event["dlink"]).status_code == 200
    assert event["error"] == ""
    assert event["report"] == {"images_given": 4, "images_registered": 4, "reprojection_error_px": 0.5}


def test_a_projects_own_webhook_wins_and_hears_of_failures(start_server, receivers, data):
    server = start_server(SETTINGS, env={"FAKE_FAIL_AT": "sfm"})
    default, own = receivers(), receivers()
    client = Client(server.url, server.token())
    secret = set_default_webhook(server, client.token, default.url)
    client.upload_all("bad.zip", data, 200_000_000, webhook=own.url)
    watch(client, "bad.zip", done)
    [(headers, body, _)] = own.wait()
    assert verify(secret, body, headers["X-OpenScan-Signature"])
    event = json.loads(body)
    assert event["status"] == "processing failed" and event["dlink"] == ""
    assert "only 2 of 40 images could be registered" in event["error"]
    assert headers["X-OpenScan-Event"] == "project.failed"
    time.sleep(1)
    assert default.received == []


def test_a_receiver_that_is_down_at_first_gets_it_on_a_retry(start_server, receivers, data):
    server, port = start_server(SETTINGS), free_port()
    client = Client(server.url, server.token())
    url = f"http://127.0.0.1:{port}/hook"
    client.upload_all("later.zip", data, 200_000_000, webhook=url)
    assert watch(client, "later.zip", done)[-1]["status"] == "processing done"
    time.sleep(1.0)  # the first attempts meet a closed port
    receiver = receivers(port=port)
    [(_, body, _)] = receiver.wait(timeout=30)
    assert json.loads(body)["project"] == "later.zip"
    assert "webhook attempt 1 failed" in (server.data_dir / "server.log").read_text()


def test_the_result_is_ready_before_a_slow_receiver_has_answered(start_server, receivers, data):
    server, receiver = start_server(SETTINGS), receivers(delay=5)
    client = Client(server.url, server.token())
    client.upload_all("slow.zip", data, 200_000_000, webhook=receiver.url)
    client.upload_all("next.zip", data, 200_000_000)
    final = watch(client, "slow.zip", done)[-1]
    assert final["status"] == "processing done" and not receiver.answered.is_set()
    # the queue goes on meanwhile
    assert watch(client, "next.zip", done, timeout=30)[-1]["status"] == "processing done"
    receiver.wait()


def test_delivery_is_bounded_with_exponential_backoff(receivers):
    from cloud_backend import webhooks
    settings = {"WEBHOOK_ATTEMPTS": 4, "WEBHOOK_BACKOFF": 0.5, "WEBHOOK_TIMEOUT": 5,
                "WEBHOOK_ALLOW_PRIVATE": True}
    failing, waits = receivers(status=500), []
    assert not webhooks.deliver(settings, failing.url, b"{}", {}, sleep=waits.append)
    assert len(failing.received) == 4 and waits == [0.5, 1.0, 2.0]
    waits.clear()  # a closed port: the same bounded tries
    assert not webhooks.deliver(settings, f"http://127.0.0.1:{free_port()}/", b"{}", {}, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0]
    # and the delivery check refuses private addresses unless allowed, at send time too
    waits.clear()
    assert not webhooks.deliver({**settings, "WEBHOOK_ALLOW_PRIVATE": False}, failing.url, b"{}", {},
                                sleep=waits.append)
    assert len(failing.received) == 4 and waits == []
