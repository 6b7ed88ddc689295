"""The sets API the OpenScan2 flow uses (`/cloud/api/sets`, by name), and photo sets stored as
OpenScan2 writes them: one zip per set in the scans folder, sent as it is, the model kept next
to it in a hidden folder so the firmware's own listing stays as it was."""
import hashlib
import json
import zipfile

from tests.rig_upload.conftest import make_photos
from tests.rig_upload.cutproxy import CutProxy
from tests.rig_upload.test_upload_cli import server_zip_sha
from tests.web.test_api import wait_state

SET = "2024-12-01_10.20.30-owl.zip"          # routine.py: strftime('20%y-%m-%d_%H.%M.%S-') + name


def openscan2_set(scans, name=SET, count=4, nested=False, size=30_000):
    """A zip like OpenScan2's routine writes: <project>_<n>.jpg, deflated, flat."""
    photos = make_photos(scans.parent / "photos", count=count, size=size)
    with zipfile.ZipFile(scans / name, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, p in enumerate(sorted(photos.iterdir()), 1):
            zf.write(p, f"owl_{i}/owl_{i}-1.jpg" if nested else f"owl_{i}.jpg")
    return scans / name


def wait_set(client, name, state):
    """The set's row once its upload reached `state`."""
    entry = next(s for s in client.get("/cloud/api/sets").get_json()["sets"] if s["name"] == name)
    wait_state(client, entry["upload_id"], state)
    return next(s for s in client.get("/cloud/api/sets").get_json()["sets"] if s["name"] == name)


def test_openscan2_zip_set_sent_as_is_reset_and_sent_again(panel, tmp_path):
    client, server, token, service, config = panel
    scans = tmp_path / "scans"
    zpath = openscan2_set(scans)
    before = sorted(p.name for p in scans.iterdir())
    # a token alone: the configured server is kept (the flow's token field sends only that)
    (config.write_text(json.dumps({"cloud": {"part_size": 100_000, "server": server.url}})))
    service.settings.server = server.url
    r = client.post("/cloud/api/settings", json={"token": token})
    assert r.status_code == 200, r.get_json()

    body = client.get("/cloud/api/sets?q=OWL").get_json()
    assert [(s["name"], s["photos"], s["status"]) for s in body["sets"]] == [
        (SET, 4, "not sent"), ("owl", 4, "not sent")]
    assert body["health"]["ok"] and body["health"]["token_set"]
    assert token not in json.dumps(body)

    r = client.post(f"/cloud/api/sets/{SET}/send")
    assert r.status_code == 202 and r.get_json()["size"] == zpath.stat().st_size
    row = wait_set(client, SET, "done")
    assert row["result_url"] == f"/cloud/scans/{SET}/result.zip" and row["preview_url"] is None
    assert client.get(row["result_url"]).status_code == 200
    assert sorted(p.name for p in scans.iterdir() if not p.name.startswith(".")) == before   # nothing moved
    assert (scans / ".openscan-cloud" / SET / "model").is_dir()
    assert [s["name"] for s in client.get("/cloud/api/sets?state=done").get_json()["sets"]] == [SET]

    r = client.post(f"/cloud/api/sets/{SET}/reset")
    assert r.status_code == 200 and r.get_json()["state"] == "queued"
    assert wait_set(client, SET, "done")["upload_id"] == row["upload_id"]   # the same entry, again


def test_sets_api_errors(panel, tmp_path):
    client, *_ = panel
    openscan2_set(tmp_path / "scans", "2024-12-01_11.00.00-stack.zip", nested=True)
    stack = next(s for s in client.get("/cloud/api/sets").get_json()["sets"] if "stack" in s["name"])
    assert "group stack photos" in stack["status"] and not stack["sendable"]
    r = client.post("/cloud/api/sets/2024-12-01_11.00.00-stack.zip/send")
    assert r.status_code == 400 and "photos in folders" in r.get_json()["error"]
    for path, code, words in [("/cloud/api/sets/nope/send", 404, "no set named"),
                              ("/cloud/api/sets/owl/reset", 404, "never sent"),
                              ("/cloud/api/sets/owl/explode", 404, "unknown action")]:
        r = client.post(path)
        assert r.status_code == code and words in r.get_json()["error"], (path, r.get_json())


def test_zip_set_resumes_through_cuts_byte_for_byte(panel, tmp_path):
    client, server, token, service, _ = panel
    zpath = openscan2_set(tmp_path / "scans", count=8, size=60_000)           # ~480 kB, 5 parts
    proxy = CutProxy(server.port, cuts=[150_000, 260_000, 420_000])
    try:
        assert client.post("/cloud/api/settings", json={"server": proxy.url, "token": token}).status_code == 200
        assert client.post(f"/cloud/api/sets/{SET}/send").status_code == 202
        assert wait_set(client, SET, "done")["result_url"]
        assert proxy.cuts_done == 3
    finally:
        proxy.close()
    assert server_zip_sha(server) == hashlib.sha256(zpath.read_bytes()).hexdigest()
