"""Other part sizes (OpenScan3's split_size, OpenScan2's osc_splitsize: user settings "up to
200 MB"): any split into `parts` slices of one size, at most the server's part limit, is
accepted; the first whole part fixes the slice size and each link stays one slice."""
import subprocess

import requests

from .helpers import Client, make_zip, slices

SPLIT = 5_000_000  # a user's split_size of 5 MB, under the server's default 200 MB limit


def curl_post(link, path):
    out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", "Content-Type: application/octet-stream",
                          "--data-binary", f"@{path}", "-w", "\n%{http_code}", link],
                         capture_output=True, text=True, check=True).stdout
    return int(out.rsplit("\n", 1)[1])


def test_5_mb_curl_parts_on_a_server_with_200_mb_parts(start_server, tmp_path):
    data = make_zip(tmp_path / "scan.zip", photos=12, size=(1200, 900)).read_bytes()
    assert 2 * SPLIT < len(data) < 3 * SPLIT, len(data)
    server = start_server(worker=False)  # PART_SIZE: the default 200 MB
    client = Client(server.url, server.token())
    r = client.call("createProject", project="owl.zip", photos=12, parts=3, filesize=len(data))
    assert r.status_code == 200, r.text
    links = r.json()["ulink"]
    parts = slices(data, SPLIT)
    for i in (2, 0, 1):  # the last, short part first: its size alone fixes the slice size
        (tmp_path / f"part{i}").write_bytes(parts[i])
        assert curl_post(links[i], tmp_path / f"part{i}") == 200
    assert requests.head(links[1]).headers["Upload-Length"] == str(SPLIT)
    r = client.call("startProject", project="owl.zip")
    assert r.status_code == 200, r.text
    assert client.call("getProjectInfo", project="owl.zip").json()["photos"] == 12


def test_a_part_that_fits_no_split_or_another_slice_size_is_refused(start_server, tmp_path):
    data = make_zip(tmp_path / "scan.zip", photos=12, size=(1200, 900)).read_bytes()
    server = start_server(worker=False)
    client = Client(server.url, server.token())
    links = client.call("createProject", project="owl.zip", photos=12, parts=3,
                        filesize=len(data)).json()["ulink"]
    too_small = requests.post(links[0], data=data[:len(data) // 4])  # 3 such slices are too few
    assert too_small.status_code == 400 and "cannot be" in too_small.json()["error"]
    assert requests.post(links[0], data=data[:SPLIT]).status_code == 200
    other = requests.post(links[1], data=data[SPLIT:2 * SPLIT - 1000])
    assert other.status_code == 400 and f"exactly {SPLIT} bytes" in other.json()["error"]
    r = client.call("createProject", project="six.zip", photos=12, parts=len(data), filesize=len(data) // 2)
    assert r.status_code == 400 and "cannot be cut into" in r.json()["error"]


def test_a_set_cut_into_too_many_parts_is_refused_before_any_link_is_made(start_server):
    """Each part is a signed link in every answer: a set in 1-byte parts must not make the
    server sign a million of them (the fuzz test found createProject busy for minutes)."""
    server = start_server(worker=False)
    client = Client(server.url, server.token())
    r = client.call("createProject", project="dust.zip", photos=3, parts=1_000_000, filesize=1_000_000)
    assert r.status_code == 400 and r.json()["error"].startswith("at most 10000 parts per project")
    assert client.call("getProjectInfo", project="dust.zip").json() == {"error": "unknown project 'dust.zip'"}
    r = client.call("createProject", project="fine.zip", photos=3, parts=10_000, filesize=1_000_000)
    assert r.status_code == 200 and len(r.json()["ulink"]) == 10_000
