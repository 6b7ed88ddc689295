"""The panel's JSON endpoints (what OpenScan3's UI or Node-RED would call), in-process with
Flask's test client, the real queue and worker, and a real backend on loopback."""
import json
import time

from tests.rig_upload.conftest import make_photos


def wait_state(client, entry_id, state, timeout=60):
    deadline = time.monotonic() + timeout
    while (e := client.get(f"/cloud/api/uploads/{entry_id}").get_json())["state"] != state:
        assert time.monotonic() < deadline and e["state"] != "failed", e
        time.sleep(0.2)
    return e


def test_settings_checked_against_server_then_stored(panel):
    client, server, token, service, config = panel
    r = client.post("/cloud/api/settings", json={"server": server.url, "token": "A" * 32})
    assert r.status_code == 400 and "did not accept this token" in r.get_json()["error"]
    assert "cloud" not in json.loads(config.read_text()) or "token" not in json.loads(config.read_text())["cloud"]
    r = client.post("/cloud/api/settings", json={"server": "ftp://x", "token": token})
    assert r.status_code == 400 and "http" in r.get_json()["error"]
    r = client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    assert r.status_code == 200 and r.get_json()["token_info"]["credit"] == 123_000_000
    assert json.loads(config.read_text())["cloud"]["token"] == token
    s = client.get("/cloud/api/settings").get_json()
    assert s["token_info"]["credit"] == 123_000_000 and token not in json.dumps(s)


def test_scans_upload_progress_and_result(panel, tmp_path):
    client, server, token, service, _ = panel
    client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    scans = client.get("/cloud/api/scans").get_json()["scans"]
    assert sorted((s["name"], s["photos"]) for s in scans) == [("owl", 4), ("vase", 2)]
    owl = next(s for s in scans if s["name"] == "owl")
    photo_bytes = sum(f.stat().st_size for f in (tmp_path / "scans" / "owl").iterdir())
    assert owl["size"] == photo_bytes and owl["upload"] is None
    r = client.post("/cloud/api/scans/owl/upload")
    assert r.status_code == 202
    entry = r.get_json()
    again = client.post("/cloud/api/scans/owl/upload")
    assert again.status_code == 409 and "already being sent" in again.get_json()["error"]
    done = wait_state(client, entry["id"], "done")
    assert done["percent"] == 100 and done["parts"] == 2
    owl = next(s for s in client.get("/cloud/api/scans").get_json()["scans"] if s["name"] == "owl")
    assert owl["obj"] and owl["upload"]["state"] == "done"
    z = client.get("/cloud/scans/owl/result.zip")
    assert z.status_code == 200 and z.data[:2] == b"PK"
    assert client.get("/cloud/scans/owl/model/model.obj").data.startswith(b"v ")


def test_bad_requests_get_json_errors(panel):
    client = panel[0]
    r = client.post("/cloud/api/scans/nope/upload")
    assert r.status_code == 404 and "no scan named 'nope'" in r.get_json()["error"]
    r = client.post("/cloud/api/scans/empty/upload")
    assert r.status_code == 400 and "no .jpg/.jpeg/.png photos" in r.get_json()["error"]
    assert client.get("/cloud/scans/owl/model/..%2f..%2frig.json").status_code == 404
    assert client.get("/cloud/scans/owl/result.zip").status_code == 404
    r = client.post("/cloud/api/upload", json={"folder": "/etc"})
    assert r.status_code == 400 and "is not a folder below" in r.get_json()["error"]
    r = client.post("/cloud/api/upload", json={"folder": "../"})
    assert r.status_code == 400
    r = client.post("/cloud/api/uploads/99/cancel")
    assert r.status_code == 400 and "no upload #99" in r.get_json()["error"]
    # no token yet: refused before anything is queued
    r = client.post("/cloud/api/scans/vase/upload")
    assert r.status_code == 400 and "no server/token" in r.get_json()["error"]
    assert client.get("/cloud/api/uploads").get_json()["uploads"] == []


def test_nested_folder_by_path(panel, tmp_path):
    """OpenScan3 keeps scans as projects/<project>/scanNN: queue one by its path."""
    client, server, token, service, _ = panel
    client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    nested = make_photos(service.settings.scans_dir / "projects" / "owl" / "scan01", count=2, size=1000)
    r = client.post("/cloud/api/upload", json={"folder": "projects/owl/scan01"})
    assert r.status_code == 202, r.get_json()
    done = wait_state(client, r.get_json()["id"], "done")
    assert done["folder"] == str(nested) and (nested / "model" / "model.obj").is_file()


def test_cancel_then_retry(panel):
    client, server, token, service, _ = panel
    client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    service.uploader.stop.set()                    # hold the worker so the entry stays queued
    service._thread.join()
    entry = client.post("/cloud/api/scans/owl/upload").get_json()
    r = client.post(f"/cloud/api/uploads/{entry['id']}/cancel")
    assert r.get_json()["state"] == "cancelled"
    r = client.post(f"/cloud/api/uploads/{entry['id']}/retry")
    assert r.get_json()["state"] == "queued"
