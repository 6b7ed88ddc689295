"""What the HTTP front end of `serve` answers itself (cloud_backend/front.py): the Windows
uploader's long request lines, and JSON errors for requests that never reach the app."""
import json
import socket

import pytest
import requests

from cloud_backend import front

from .helpers import AUTH, Client


@pytest.fixture(scope="module")
def client(server):
    return Client(server.url, server.token(limit_photos=2000))


def windows_uploader_state(client, photos, name="IMG_20240501_123456789.jpg"):
    """The Windows uploader's query: its whole state, with one `filelist` value per photo."""
    return [("token", client.token), ("project", "owl.zip"), ("photos", photos),
            ("parts", 1), ("filesize", 5_000_000), ("partslist", "owl.zip"),
            *[("filelist", name.replace("123456789", f"{i:09d}")) for i in range(photos)]]


def raw(server, request):
    """Send bytes as they are; returns (status, headers and body text)."""
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return int(head.split()[1]), head, body


def test_the_windows_uploaders_long_request_lines_are_served(client):
    # 1500 phone-style names: a 57 KB request line (gunicorn refused 4 KB with an HTML 414)
    params = windows_uploader_state(client, 1500)
    info = requests.get(f"{client.base}/getTokenInfo", params=params, auth=AUTH, timeout=30)
    assert len(info.request.url) > 50_000
    assert info.status_code == 200 and set(info.json()) >= {"credit", "limit_photos"}
    created = requests.get(f"{client.base}/createProject", params=params, auth=AUTH, timeout=30)
    assert created.status_code == 200, created.text
    started = requests.get(f"{client.base}/startProject", params=params, auth=AUTH, timeout=30)
    assert started.status_code == 400 and "part" in started.json()["error"]  # nothing uploaded


def test_a_request_line_over_64_kib_gets_a_json_414(client):
    params = windows_uploader_state(client, 2000)
    r = requests.get(f"{client.base}/getTokenInfo", params=params, auth=AUTH, timeout=30)
    assert len(r.request.url) > front.MAX_REQUEST_LINE
    assert r.status_code == 414
    assert r.json() == {"error": f"the request line is longer than {front.MAX_REQUEST_LINE} bytes"}


@pytest.mark.parametrize("request_bytes, status, words", [
    (b"GARBAGE\r\n\r\n", 400, "Invalid Request Line"),
    (b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "fields size"),
    (b"GET /status HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", 431, "fields"),
    (b"GET /status HTTP/1.1\r\n" + b"X-A: " + b"b" * 8000 + b"\r\n" * 1 + b"X-B: "
     + b"c" * 8000 + b"\r\n" * 1 + b"X-C: " + b"c" * 100_000, 431, "longer than"),
])
def test_errors_of_the_http_server_itself_are_json(server, request_bytes, status, words):
    got, head, body = raw(server, request_bytes)
    assert got == status and "Content-Type: application/json" in head
    assert words.lower() in json.loads(body)["error"].lower()


def test_a_client_waiting_for_100_continue_gets_it_before_its_body(server, client):
    link = client.create("curl.zip", b"\0" * 50_000, 50_000)["ulink"][0]  # curl --data-binary
    host, port = server.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /{link.split('/', 3)[3]} HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"\0" * 50_000)
        answer = b""
        while b"HTTP/1.1 200 " not in answer and (chunk := sock.recv(1000)):
            answer += chunk  # after another 100 Continue from gunicorn (clients skip 1xx)
        assert b"HTTP/1.1 200 " in answer
