"""OpenScan2 re-sends a set by calling createProject again with the same name after a failed
upload (it never calls resetProject) (issue 12.2): allowed while the project is still `created`,
charged once, never twice, whatever arrives at the same time."""
import subprocess

import requests

from ..backend.helpers import AUTH, Client, make_zip, slices
from .helpers import at_once, codes

PART = 1000
SERVER_SETTINGS = {"PART_SIZE": PART}
CREDIT = 100_000


def curl_post(link, data, path):
    """OpenScan2's upload: curl --data-binary of the part file; returns the HTTP status."""
    path.write_bytes(data)
    out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/octet-stream",
                          "--data-binary", f"@{path}", "-o", "/dev/null", "-w", "%{http_code}", link],
                         capture_output=True, text=True, check=True).stdout
    return int(out)


def create(client, name, data):
    # OpenScan2 adds its own fields; the server ignores them
    return client.call("createProject", project=name, photos=3, parts=len(slices(data, PART)),
                       filesize=len(data), folder="/home/pi/OpenScan/scans/owl")


def credit(client):
    return client.call("getTokenInfo").json()["credit"]


def test_create_fail_create_again_upload_start(server, tmp_path):
    client = Client(server.url, server.token(credit=CREDIT))
    data = make_zip(tmp_path / "a.zip").read_bytes()
    name = "owl-1714559400000.zip"
    first = create(client, name, data)
    assert first.status_code == 200 and credit(client) == CREDIT - len(data)
    parts = slices(data, PART)
    assert curl_post(first.json()["ulink"][0], parts[0], tmp_path / "p") == 200
    assert curl_post(first.json()["ulink"][1], parts[1][:300], tmp_path / "p") == 400  # cut off
    assert client.call("getProjectInfo", project=name).json()["status"] == "created"

    again = create(client, name, data)  # what OpenScan2 does next
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "created" and len(again.json()["ulink"]) == len(parts)
    assert again.json()["credit"] == CREDIT - len(data)  # charged once
    for link, part in zip(again.json()["ulink"], parts):
        assert curl_post(link, part, tmp_path / "p") == 200
    assert client.call("startProject", project=name).json() == {"status": "initialized"}
    assert credit(client) == CREDIT - len(data)

    late = create(client, name, data)  # once started, the name is taken until reset
    assert late.status_code == 400 and "exists already" in late.json()["error"]


def test_a_rebuilt_set_of_another_size_is_charged_the_difference(server, tmp_path):
    client = Client(server.url, server.token(credit=CREDIT))
    small = make_zip(tmp_path / "a.zip", photos=2).read_bytes()
    big = make_zip(tmp_path / "b.zip", photos=5).read_bytes()
    first = create(client, "owl.zip", small).json()
    assert curl_post(first["ulink"][0], slices(small, PART)[0], tmp_path / "p") == 200
    again = create(client, "owl.zip", big)
    assert again.status_code == 200 and again.json()["credit"] == CREDIT - len(big)
    # the old slicing is gone: every part of the new set is needed
    r = client.call("startProject", project="owl.zip")
    assert r.status_code == 400 and "missing part(s) 0" in r.json()["error"]
    for link, part in zip(again.json()["ulink"], slices(big, PART)):
        assert curl_post(link, part, tmp_path / "p") == 200
    assert client.call("startProject", project="owl.zip").status_code == 200
    assert client.call("resetProject", project="owl.zip").status_code == 200
    assert credit(client) == CREDIT


def test_concurrent_re_creates_never_charge_twice(server, tmp_path):
    client = Client(server.url, server.token(credit=CREDIT))
    sets = [make_zip(tmp_path / f"{i}.zip", photos=1 + i % 4).read_bytes() for i in range(12)]
    assert create(client, "owl.zip", sets[0]).status_code == 200
    answers = at_once(12, lambda i: create(client, "owl.zip", sets[i]))
    assert all(c in (200, 409) for c in codes(answers)) and 200 in codes(answers), \
        [r.text for r in answers]
    assert client.call("resetProject", project="owl.zip").status_code == 200
    assert credit(client) == CREDIT  # whatever won, the charge came back exactly once


def test_same_name_created_at_once_is_one_project_charged_once(server, tmp_path):
    client = Client(server.url, server.token(credit=CREDIT))
    data = make_zip(tmp_path / "a.zip").read_bytes()
    answers = at_once(12, lambda i: create(client, "owl.zip", data))
    assert all(c in (200, 409) for c in codes(answers)) and 200 in codes(answers), \
        [r.text for r in answers]
    assert credit(client) == CREDIT - len(data)


def test_a_refused_re_create_leaves_the_set_as_it_was(server, tmp_path):
    client = Client(server.url, server.token(credit=CREDIT))
    data = make_zip(tmp_path / "a.zip").read_bytes()
    for link, part in zip(create(client, "owl.zip", data).json()["ulink"], slices(data, PART)):
        assert curl_post(link, part, tmp_path / "p") == 200
    other = make_zip(tmp_path / "b.zip", photos=5).read_bytes()
    refused = requests.get(f"{server.url}/createProject", auth=AUTH, headers={"Host": "evil.example"},
                           params={"token": client.token, "project": "owl.zip", "photos": 5,
                                   "parts": len(slices(other, PART)), "filesize": len(other)})
    assert refused.status_code == 400  # no links for that host name: nothing may change
    assert client.call("startProject", project="owl.zip").json() == {"status": "initialized"}
    assert credit(client) == CREDIT - len(data)
