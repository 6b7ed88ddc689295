"""Per-scan cloud options (openscan_protocol.options) on the rig: what createProject receives
(a plain recording server, PROTOCOL.md only), that they stay with a queued upload across a
restart, the rig-wide defaults, a server's 400 naming one, and the CLI's checks."""
import json
import sqlite3
from urllib.parse import parse_qs

import pytest

from openscan_plugin.cloud import upload_queue as queue_module
from openscan_plugin.cloud.package import ScanPackage
from openscan_plugin.cloud.upload_queue import UploadQueue
from openscan_plugin.cloud.retry import RetryPolicy
from openscan_plugin.cloud.scan_options import OptionsError, check, resolve, to_params
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.cloud.uploader import Uploader

from .conftest import make_photos
from .plain_server import PART, PlainServer
from .test_upload_cli import openscan

TOKEN = "T" * 32
BASE = {"token", "project", "photos", "parts", "filesize"}


def received(query: str) -> dict:
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}


@pytest.fixture
def plain():
    servers = []

    def start(**kw):
        servers.append(PlainServer(TOKEN, **kw))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


def service_for(tmp_path, server_url, **cloud):
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"server": server_url, "token": TOKEN, "part_size": PART, **cloud}}))
    return CloudService(load_settings(str(config), data_dir=tmp_path / "rig", scans_dir=tmp_path))


def test_params_are_only_the_non_defaults():
    assert to_params(resolve()) == {}
    assert to_params({"quality": "standard", "texture": True, "formats": "ply,stl,glb,obj"}) == {}
    assert to_params({"texture": "off", "formats": ["glb", "obj"], "notify": False}) == \
        {"texture": "false", "formats": "obj,glb", "notify": "false"}
    for bad, words in [({"quality": "ultra"}, "quality must be one of preview, standard, high"),
                       ({"formats": "obj,fbx"}, "unknown format 'fbx'"), ({"formats": []}, "at least one"),
                       ({"webhook": "javascript:alert(1)"}, "webhook must be an http"),
                       ({"consent": "maybe"}, "consent must be true or false"),
                       ({"qualty": "high"}, "unknown option qualty")]:
        with pytest.raises(OptionsError, match=words):
            check(bad)


def test_client_sends_exactly_the_chosen_options(tmp_path, plain):
    server = plain()
    photos = make_photos(tmp_path / "owl", count=3, size=30_000)
    service = service_for(tmp_path, server.url)
    hook = "https://hooks.example/rig?a=1&b=two%20words"
    entry = service.enqueue(photos, {"quality": "high", "texture": False, "formats": "glb,obj",
                                     "consent": True, "webhook": hook, "masking": "auto"})
    assert Uploader(service.queue, retry=RetryPolicy(backoff=0.01)).process(entry.id)
    assert service.queue.get(entry.id).state == "done", service.queue.get(entry.id).error
    (query,) = server.app.created
    got = received(query)
    assert set(got) - BASE == {"quality", "texture", "formats", "consent", "webhook"}   # masking=auto is default
    assert {k: got[k] for k in set(got) - BASE} == {"quality": "high", "texture": "false", "formats": "obj,glb",
                                                    "consent": "true", "webhook": hook}


def test_defaults_send_no_option_parameters(tmp_path, plain):
    """An old server sees the createProject it always saw."""
    server = plain()
    service = service_for(tmp_path, server.url)
    entry = service.enqueue(make_photos(tmp_path / "owl", count=2, size=1000))
    assert entry.cloud_options == resolve()
    assert Uploader(service.queue).process(entry.id)
    (query,) = server.app.created
    assert set(received(query)) == BASE


def test_options_survive_a_restart_and_rig_defaults_apply(tmp_path):
    service = service_for(tmp_path, "http://127.0.0.1:9", scan_options={"quality": "preview", "consent": True})
    owl = service.enqueue(make_photos(tmp_path / "owl", count=2, size=1000))               # the GPIO/daemon path
    vase = service.enqueue(make_photos(tmp_path / "vase", count=2, size=1000), {"quality": "high", "notify": False})
    service.stop()
    again = CloudService(load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path / "rig"))   # "after a power cut"
    assert again.queue.get(owl.id).cloud_options == resolve({"quality": "preview", "consent": True})
    assert again.queue.get(vase.id).cloud_options == resolve({"quality": "preview", "consent": True},
                                                             {"quality": "high", "notify": False})
    assert again.queue.get(vase.id).public()["options"]["quality"] == "high"
    # a retry keeps them; starting over may change them
    again.queue.update(vase.id, state="failed", error="x")
    assert again.retry(vase.id).cloud_options["quality"] == "high"
    again.queue.update(vase.id, state="failed", error="x")
    reset = again.queue.reset(vase.id, options=resolve(again.queue.get(vase.id).cloud_options, {"quality": "standard"}))
    assert reset.cloud_options["quality"] == "standard" and reset.cloud_options["notify"] is False


def test_a_bad_rig_default_in_the_config_is_dropped_not_fatal(tmp_path):
    service = service_for(tmp_path, "http://127.0.0.1:9", scan_options={"quality": "ultra", "texture": False})
    assert service.settings.scan_options == {"texture": False}


def test_a_queue_from_before_options_is_migrated(tmp_path):
    path = tmp_path / "rig" / "uploads.sqlite"
    path.parent.mkdir()
    old_schema = queue_module.SCHEMA.replace(",\n    options TEXT", "")
    assert "options" not in old_schema
    with sqlite3.connect(path) as db:
        db.executescript(old_schema)
        db.execute("INSERT INTO uploads (folder, label, server, token, project, part_size, snapshot, photos, size,"
                   " parts, created, updated) VALUES ('/x', 'x', 'http://s', 't', 'x-1.zip', 1, '{}', 1, 1, 1, 0, 0)")
    queue = UploadQueue(path)
    assert queue.get(1).cloud_options == {} and to_params(queue.get(1).cloud_options) == {}
    package = ScanPackage.from_folder(make_photos(tmp_path / "owl", count=1, size=100), PART)
    assert queue.add(package, "http://s", "t", options={"quality": "high"}).cloud_options == {"quality": "high"}


def test_a_refused_option_is_one_clear_line_and_the_scan_stays(tmp_path, plain):
    """The server's 400 naming an option: the CLI says so, the entry stays in the queue
    (failed, with its options); sent again with another choice it goes through."""
    server = plain(refuse=lambda a: "masking 'masks' needs masks/<image>.png in the upload"
                   if a.get("masking") == "masks" else None)
    photos = make_photos(tmp_path / "owl", count=2, size=1000)
    r = openscan("upload", photos, "--server", server.url, "--token", TOKEN, "--masking", "masks",
                 "--quality", "high", data_dir=tmp_path)
    assert r.returncode == 1
    assert "createProject: masking 'masks' needs masks/<image>.png in the upload" in r.stderr
    assert "masking=masks" in r.stderr and "send it again" in r.stderr
    (row,) = json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)
    assert row["state"] == "failed" and row["options"]["masking"] == "masks"
    service = CloudService(load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path))
    entry = service.reset(row["id"], {"masking": "auto"})
    assert entry.cloud_options["masking"] == "auto" and entry.cloud_options["quality"] == "high"
    assert Uploader(service.queue).process(entry.id)
    assert service.queue.get(entry.id).state == "done"
    assert received(server.app.created[-1]).get("masking") is None
    assert received(server.app.created[-1])["quality"] == "high"


def test_bad_option_values_are_cli_errors_and_queue_nothing(tmp_path):
    photos = make_photos(tmp_path / "owl", count=1, size=100)
    args = ("upload", photos, "--server", "http://127.0.0.1:9", "--token", TOKEN, "--no-wait")
    r = openscan(*args, "--quality", "ultra", data_dir=tmp_path)
    assert r.returncode == 2 and "Invalid value for '--quality': 'ultra' is not one of" in r.stderr
    r = openscan(*args, "--formats", "obj,fbx", data_dir=tmp_path)
    assert r.returncode == 2 and "unknown format 'fbx'" in r.stderr
    r = openscan(*args, "--webhook", "ftp://x", data_dir=tmp_path)
    assert r.returncode == 2 and "webhook must be an http" in r.stderr
    assert json.loads(openscan("status", "--json", data_dir=tmp_path).stdout) == []
    r = openscan(*args, "--no-texture", "--formats", "stl", "--consent", data_dir=tmp_path)
    assert r.returncode == 0 and "options: texture=false, formats=stl, consent=true" in r.stdout
    (row,) = json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)
    assert row["options"]["formats"] == ["stl"] and row["options"]["consent"] is True
