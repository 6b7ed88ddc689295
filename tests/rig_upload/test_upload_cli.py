"""`openscan upload FOLDER` against a real backend on loopback: the whole chain in a subprocess,
clear errors for what the token does not allow, and the queue states the CLI reports."""
import hashlib
import json
import os
import subprocess
import sys
import zipfile

from openscan_plugin.cloud.package import ScanPackage

from .conftest import make_photos


def openscan(*args, data_dir, timeout=120, **extra_env):
    env = {**os.environ, "OPENSCAN_DATA_DIR": str(data_dir), "OPENSCAN_CONFIG": str(data_dir / "rig.json"),
           **extra_env}
    return subprocess.run([sys.executable, "-m", "openscan_plugin.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def server_zip_sha(server, project_uid=None) -> str:
    """sha256 of the stored parts of the server's (only) project, concatenated in order: what
    its job reads, not the `.staged` bytes a late cut request may leave beside a stored part."""
    projects = list((server.data_dir / "blobs" / "projects").iterdir())
    assert len(projects) == 1
    parts = sorted((p for p in (projects[0] / "parts").iterdir() if p.name.isdigit()),
                   key=lambda p: int(p.name))
    h = hashlib.sha256()
    for p in parts:
        h.update(p.read_bytes())
    return h.hexdigest()


def test_upload_folder_end_to_end(backend, photos, tmp_path):
    server = backend()
    token = server.token()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = openscan("upload", photos, "--server", server.url, "--token", token, "--part-size", 100_000,
                 data_dir=tmp_path, TMPDIR=str(tmp))
    assert r.returncode == 0, r.stderr + r.stdout
    assert list(tmp.iterdir()) == []                 # no temporary zip (the Pi's /tmp is small)
    assert "6 photos" in r.stdout and "in 3 part(s)" in r.stdout
    assert "done: model in" in r.stdout
    # the model is unpacked into the folder, the result zip kept next to it
    assert (photos / "model" / "model.obj").is_file()
    report = json.loads((photos / "model" / "report.json").read_text())
    assert report["images"] == sorted(p.name for p in photos.glob("*.jpg"))
    # what the server holds is byte for byte the zip we would make locally
    local = hashlib.sha256(b"".join(ScanPackage.from_folder(photos, 100_000))).hexdigest()
    assert server_zip_sha(server) == local
    st = openscan("status", data_dir=tmp_path)
    assert "#1" in st.stdout and "done" in st.stdout
    rows = json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)
    assert rows[0]["state"] == "done" and rows[0]["bytes_sent"] == rows[0]["size"]
    assert "token" not in rows[0]


def test_config_supplies_server_and_token(backend, photos, tmp_path):
    server = backend()
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"server": server.url, "token": server.token(),
                                                             "part_size": 100_000}}))
    r = openscan("upload", photos, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (photos / "model" / "model.obj").is_file()


def test_limits_refused_before_any_upload(backend, tmp_path):
    server = backend()
    token = server.token(limit_photos=3)
    folder = make_photos(tmp_path / "big", count=5, size=1000)
    r = openscan("upload", folder, "--server", server.url, "--token", token, "--part-size", 100_000,
                 data_dir=tmp_path)
    assert r.returncode == 1
    assert "this scan has 5 photos; your token allows at most 3" in r.stderr
    assert not (server.data_dir / "blobs" / "projects").exists() or \
        not any((server.data_dir / "blobs" / "projects").iterdir())
    assert json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)[0]["state"] == "failed"


def test_bad_input_gets_one_clear_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = openscan("upload", empty, "--server", "http://127.0.0.1:9", "--token", "x" * 32, data_dir=tmp_path)
    assert r.returncode == 1 and "no .jpg/.jpeg/.png photos" in r.stderr
    r = openscan("upload", make_photos(tmp_path / "p", 1, 100), data_dir=tmp_path)
    assert r.returncode == 1 and "no server/token" in r.stderr
    r = openscan("status", "--retry", "42", data_dir=tmp_path)
    assert r.returncode == 1 and "no upload #42" in r.stderr


def test_unreachable_server_keeps_entry_queued(photos, tmp_path):
    """No network is not a failure: the entry waits (and is resumed by the daemon)."""
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"retries": 1}}))
    r = openscan("upload", photos, "--server", "http://127.0.0.1:9", "--token", "x" * 32, data_dir=tmp_path)
    assert r.returncode == 1 and "stays queued" in r.stderr
    assert "cannot reach http://127.0.0.1:9 (connection refused)" in r.stderr
    assert "x" * 32 not in r.stderr + r.stdout                     # the token is never printed
    assert json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)[0]["state"] == "queued"


def test_failed_project_reset_and_sent_again(backend, tmp_path):
    server = backend(env={"FAKE_FAIL_AT": "sfm"})
    token = server.token()
    folder = make_photos(tmp_path / "owl", count=3, size=1000)
    r = openscan("upload", folder, "--server", server.url, "--token", token, data_dir=tmp_path)
    assert r.returncode == 1 and "only 2 of 40 images could be registered" in r.stderr
    # retry: the server queues the failed project again (it fails again: same fake pipeline)
    r = openscan("status", "--reset", "1", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)
    assert rows[0]["state"] == "queued" and rows[0]["parts_done"] == 0


def test_download_again_by_id(backend, photos, tmp_path):
    server = backend()
    r = openscan("upload", photos, "--server", server.url, "--token", server.token(),
                 "--part-size", 100_000, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    (photos / "model" / "model.obj").unlink()
    r = openscan("download", "1", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (photos / "model" / "model.obj").read_text().startswith("v ")
    with zipfile.ZipFile(next((photos / "cloud").glob("*.zip"))) as zf:
        assert "model.obj" in zf.namelist()


def test_queue_now_send_later(backend, photos, tmp_path):
    server = backend()
    r = openscan("upload", photos, "--server", server.url, "--token", server.token(), "--part-size", 100_000,
                 "--no-wait", data_dir=tmp_path)
    assert r.returncode == 0 and "#1 owl: 6 photos" in r.stdout
    assert json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)[0]["state"] == "queued"
    r = openscan("upload", "--resume", 1, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "done: model in" in r.stdout and (photos / "model" / "model.obj").is_file()


def test_upload_of_a_folder_already_being_sent_is_refused(photos, tmp_path):
    """`openscan upload` queues through the same service as the panel and the daemon: a folder
    with an upload under way is not queued twice."""
    args = ("--server", "http://127.0.0.1:9", "--token", "x" * 32, "--no-wait")
    assert openscan("upload", photos, *args, data_dir=tmp_path).returncode == 0
    r = openscan("upload", photos, *args, data_dir=tmp_path)
    assert r.returncode == 1 and "owl is already being sent (upload #1, queued)" in r.stderr
    assert len(json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)) == 1
