"""Issue 13 #12: rig.json and the queue database hold the token and were written 0644 (world-
readable) outside systemd. Under a login shell's umask 022 they are now 0600: written so,
kept so when rewritten, tightened when an older version left them open, and SQLite's -wal
and -shm files of the queue follow the database's mode."""
import json
import os
import sqlite3
import stat

from openscan_plugin.cloud.package import ScanPackage
from openscan_plugin.cloud.upload_queue import UploadQueue
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from tests.rig_upload.conftest import make_photos


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_token_saved_from_the_panel_is_owner_only(panel, backend):
    server = backend()
    token = server.token()
    p = panel(rig=False)
    os.chmod(p.config, 0o644)                    # as the old version left it
    r = p.request("POST", "/cloud/api/settings", json={"server": server.url, "token": token})
    assert r.status_code == 200, r.text
    assert json.loads(p.config.read_text())["cloud"]["token"] == token
    assert mode(p.config) == 0o600
    (p.config.parent / "rig.json.tmp").write_text("{}")   # a leftover of a power cut, 0644
    os.chmod(p.config.parent / "rig.json.tmp", 0o644)
    r = p.request("POST", "/cloud/api/settings", json={"server": server.url, "token": token})
    assert r.status_code == 200 and mode(p.config) == 0o600


def test_an_open_config_is_tightened_at_start(tmp_path, umask_022):
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"server": "http://127.0.0.1:9", "token": "T" * 32}}))
    assert mode(config) == 0o644
    service = CloudService(load_settings(str(config), data_dir=tmp_path / "rig"))
    assert mode(config) == 0o600
    service.stop()


def test_queue_database_and_its_wal_are_owner_only(tmp_path, umask_022):
    path = tmp_path / "rig" / "uploads.sqlite"
    queue = UploadQueue(path)
    reader = sqlite3.connect(path)               # holds the WAL open, as a second process would
    reader.execute("SELECT count(*) FROM uploads").fetchone()
    package = ScanPackage.from_folder(make_photos(tmp_path / "owl", count=2, size=1000), 100_000)
    queue.add(package, "http://127.0.0.1:9", "T" * 32)
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    assert all(f.exists() for f in files)
    assert [mode(f) for f in files] == [0o600] * 3
    reader.close()


def test_an_open_queue_database_is_tightened(tmp_path, umask_022):
    path = tmp_path / "uploads.sqlite"
    UploadQueue(path)
    os.chmod(path, 0o644)
    UploadQueue(path)                            # the next start of the daemon
    assert mode(path) == 0o600
