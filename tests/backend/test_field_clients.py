"""Each field client's exact sequence, replayed over real HTTP against `openscan-cloud serve`."""
import subprocess

import pytest
import requests

from .helpers import Client, make_zip, slices

PART = 1_000_000  # small parts, yet more than one 512 KiB block each
PHOTOS = 40


@pytest.fixture(scope="module")
def scan_zip(tmp_path_factory):
    data = make_zip(tmp_path_factory.mktemp("zip") / "scan.zip", PHOTOS, size=(320, 240)).read_bytes()
    assert 2 * PART < len(data) < 3 * PART  # three parts, the last one short
    return data


@pytest.fixture
def client(start_server):
    server = start_server({"PART_SIZE": PART}, worker=False)
    return Client(server.url, server.token())


def preflight(client):
    info = client.call("getTokenInfo").json()
    assert set(info) == {"credit", "limit_filesize", "limit_photos"}
    return info


def create(client, name, data):
    credit = preflight(client)["credit"]
    created = client.create(name, data, PART, photos=PHOTOS)
    assert created["status"] == "created" and len(created["ulink"]) == 3
    assert created["credit"] == credit - len(data)  # credit is counted in bytes
    return created["ulink"]


def start_and_check(client, name):
    r = client.call("startProject", project=name)
    assert r.status_code == 200 and r.json() == {"status": "initialized"}
    info = client.call("getProjectInfo", project=name).json()
    assert info["status"] == "initialized" and info["dlink"] == "" and info["ulink"] == []
    assert info["photos"] == PHOTOS and 0 <= info["progress"] <= 100


def test_old_uploader_posts_bytes_bodies(client, scan_zip):
    links = create(client, "1637421234-OSC.zip", scan_zip)
    for link, part in zip(links, slices(scan_zip, PART)):
        r = requests.post(link, data=part, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        assert r.json()["size"] == len(part) and len(r.json()["content-hash"]) == 64
    start_and_check(client, "1637421234-OSC.zip")


def test_openscan3_streams_chunked_512k_blocks(client, scan_zip):
    links = create(client, "2024-05-01_12.30.00-owl.zip", scan_zip)

    def blocks(part):  # a generator body: requests sends it with Transfer-Encoding: chunked
        for i in range(0, len(part), 512 * 1024):
            yield part[i:i + 512 * 1024]

    for link, part in zip(links, slices(scan_zip, PART)):
        r = requests.post(link, data=blocks(part), timeout=60,
                          headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        assert r.json()["size"] == len(part)
    start_and_check(client, "2024-05-01_12.30.00-owl.zip")


def test_openscan2_curl_data_binary(client, scan_zip, tmp_path):
    links = create(client, "owl-1714559400000.zip", scan_zip)
    for i, (link, part) in enumerate(zip(links, slices(scan_zip, PART))):
        path = tmp_path / f"part{i}"
        path.write_bytes(part)
        out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/octet-stream",
                              "--data-binary", f"@{path}", "-w", "\n%{http_code}", link],
                             capture_output=True, text=True, check=True).stdout
        assert out.rsplit("\n", 1)[1] == "200", out
    start_and_check(client, "owl-1714559400000.zip")
