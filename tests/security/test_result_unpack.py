"""Issue 13 #11: a hostile server's 204 KB result zip unpacked to 210 MB in `<scan>/model/`.
The result zip is now checked before a byte is unpacked: total and per-file size, file count,
compression ratio, free space, and names (no `..`). End to end against a real backend whose
reconstruction returns the hostile zip, the refusal shows in the upload's status and no model,
half-unpacked or otherwise, is left; the limits are settings in the rig config."""
import json
import shutil
import time
import zipfile

import pytest

from openscan_plugin.cloud.unpack import UnpackError, UnpackLimits, unpack_result
from tests.backend.server import Server
from tests.rig_upload.conftest import FAST


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    kind = folder / "kind"
    server = Server(folder, {**FAST, "PIPELINE": "tests.security.hostile_pipeline", "PART_SIZE": 100_000},
                    env={"HOSTILE_RESULT_FILE": str(kind)})
    yield server, kind, server.token()
    server.stop()


def hostile_panel(panel, hostile_server, kind, **limits):
    server, kind_file, token = hostile_server
    kind_file.write_text(kind)
    cloud = {"part_size": 100_000, "server": server.url, "token": token, "result_limits": limits}
    return panel({"cloud": cloud}, rig=False)


def upload_and_wait(p, state="failed", timeout=90):
    r = p.request("POST", "/cloud/api/scans/owl/upload")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + timeout
    while (e := p.request("GET", f"/cloud/api/uploads/{r.json()['id']}").json())["state"] != state:
        assert time.monotonic() < deadline and e["state"] not in ("done", "failed"), e
        time.sleep(0.2)
    return e


@pytest.mark.parametrize("kind, message", [
    ("bomb", "times its size: a zip bomb, not a model"),
    ("escape", "unsafe path: '../../escaped.txt'"),
    ("crowd", "holds 3001 files, more than the limit of 1000"),
])
def test_a_hostile_result_is_refused_with_the_reason(panel, hostile_server, tmp_path, kind, message):
    p = hostile_panel(panel, hostile_server, kind)
    e = upload_and_wait(p)
    assert message in e["error"], e
    scan = p.scans / "owl"
    assert not (scan / "model").exists() and not (scan / "model.new").exists()
    assert list((scan / "cloud").iterdir()) == []          # nor the refused zip
    assert not list(tmp_path.rglob("escaped.txt"))
    assert sum(f.stat().st_size for f in scan.rglob("*") if f.is_file()) < 1_000_000


def test_what_does_not_fit_the_free_space_is_refused(panel, hostile_server, tmp_path):
    free = shutil.disk_usage(tmp_path).free
    p = hostile_panel(panel, hostile_server, "plain", keep_free_bytes=free + 10**9)
    e = upload_and_wait(p)
    assert "are free on the rig" in e["error"] and "make room, then retry" in e["error"], e


def make_zip(path, files: dict, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("files, limits, message", [
    ({"a.obj": b"v" * 2000, "b.obj": b"v" * 2000}, UnpackLimits(max_bytes=3000), "more than the limit of 0.0 MB"),
    ({"a.obj": b"v" * 2000}, UnpackLimits(max_entry_bytes=1000), "a.obj in the result zip unpacks to"),
    ({f"{i}.txt": b"x" for i in range(11)}, UnpackLimits(max_entries=10), "holds 11 files"),
    ({"/etc/cron.d/x": b"x"}, UnpackLimits(), "unsafe path"),
    ({"sub/../../x": b"x"}, UnpackLimits(), "unsafe path"),
])
def test_limits_keep_the_old_model(tmp_path, files, limits, message):
    model = tmp_path / "scan" / "model"
    model.mkdir(parents=True)
    (model / "model.obj").write_text("the model from before")
    with pytest.raises(UnpackError, match=message.replace("(", r"\(")):
        unpack_result(make_zip(tmp_path / "r.zip", files), model, limits)
    assert (model / "model.obj").read_text() == "the model from before"
    assert sorted(p.name for p in (tmp_path / "scan").iterdir()) == ["model"]


def test_a_good_result_replaces_the_model(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "old.obj").write_text("old")
    unpack_result(make_zip(tmp_path / "r.zip", {"model.obj": "v 0 0 0\n", "sparse/points3D.txt": "1 2 3\n"}), model)
    assert sorted(str(p.relative_to(model)) for p in model.rglob("*")) == ["model.obj", "sparse", "sparse/points3D.txt"]


def test_limits_come_from_the_rig_config(tmp_path):
    from openscan_plugin.cloud.settings import load_settings
    from openscan_plugin.config import ConfigError
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"result_limits": {"max_entries": 50, "max_ratio": 20}}}))
    limits = load_settings(str(config)).result_limits
    assert (limits.max_entries, limits.max_ratio, limits.max_bytes) == (50, 20.0, UnpackLimits().max_bytes)
    config.write_text(json.dumps({"cloud": {"result_limits": {"max_files": 5}}}))
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings(str(config))
