"""Running a finished scan again with other options from the rig (rerunProject, no upload),
against the real backend with the stand-in pipeline (which puts the options it got into the
result's options.json): the new model replaces the old one only once it is complete, a refusal
leaves the entry done with its model, and a wait survives a restart like any other."""
import json
import time

import pytest

from openscan_plugin.cloud.client import CloudClient
from openscan_plugin.cloud.retry import RetryPolicy
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.cloud.unpack import UnpackLimits
from openscan_plugin.cloud.upload_queue import QueueError
from openscan_plugin.cloud.uploader import Uploader

from .test_upload_cli import openscan

FAST = RetryPolicy(backoff=0.01, poll_first=0.2, poll_max=0.5)


def model_options(folder) -> dict:
    return json.loads((folder / "model" / "options.json").read_text())


def rows(tmp_path) -> list:
    return json.loads(openscan("status", "--json", data_dir=tmp_path).stdout)


def test_a_done_scan_runs_again_with_high_quality(backend, photos, tmp_path):
    server = backend()
    r = openscan("upload", photos, "--server", server.url, "--token", server.token(), "--part-size", 100_000,
                 "--quality", "preview", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert model_options(photos) == {"quality": "preview"}

    r = openscan("rerun", "1", "--quality", "high", "--no-texture", "--no-wait", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "#1 owl: running again" in r.stdout and "quality=high, texture=false" in r.stdout
    (row,) = rows(tmp_path)
    assert row["state"] == "processing" and row["active"] and not row["rerunnable"]
    assert row["options"]["quality"] == "high" and row["options"]["texture"] is False
    assert model_options(photos) == {"quality": "preview"}          # the old model stays meanwhile

    # another process takes the wait up, as the daemon does after a restart
    r = openscan("upload", "--resume", "1", data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "done: model in" in r.stdout
    assert model_options(photos) == {"quality": "high", "texture": False}
    assert (photos / "model" / "model.obj").is_file()
    assert [p.name for p in (photos / "model").parent.glob("model*")] == ["model"]   # no model.new left
    (row,) = rows(tmp_path)
    assert row["state"] == "done" and row["rerunnable"] and row["bytes_sent"] == row["size"]   # no upload again


def test_a_refused_rerun_leaves_the_entry_done_with_its_model(backend, photos, tmp_path):
    """Without consent the photos go once the model is delivered: the server answers 409."""
    server = backend(PHOTO_GRACE_HOURS=0, HOUSEKEEPING_SECONDS=0.5)
    token = server.token()
    r = openscan("upload", photos, "--server", server.url, "--token", token, "--part-size", 100_000,
                 data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    (row,) = rows(tmp_path)
    client = CloudClient(server.url, token)
    deadline = time.monotonic() + 30
    while client.project_info(row["project"])["photos_kept"] and time.monotonic() < deadline:
        time.sleep(0.2)
    client.close()

    r = openscan("rerun", "1", "--quality", "high", data_dir=tmp_path)
    assert r.returncode == 1
    assert "the server will not run upload #1 again: rerunProject: the photos of this project were deleted" \
        in r.stderr
    (after,) = rows(tmp_path)
    assert after["state"] == "done" and after["options"] == row["options"] and after["result"] == row["result"]
    assert model_options(photos) == {}

    # bad values are CLI errors before any request; only finished uploads run again
    r = openscan("rerun", "1", "--quality", "ultra", data_dir=tmp_path)
    assert r.returncode == 2 and "Invalid value for '--quality'" in r.stderr
    r = openscan("rerun", "1", "--formats", "obj,fbx", data_dir=tmp_path)
    assert r.returncode == 2 and "unknown format 'fbx'" in r.stderr
    r = openscan("rerun", "7", data_dir=tmp_path)
    assert r.returncode == 1 and "no upload #7" in r.stderr
    r = openscan("upload", photos, "--server", "http://127.0.0.1:9", "--token", token, "--no-wait",
                 data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    r = openscan("rerun", "2", data_dir=tmp_path)
    assert r.returncode == 1 and "upload #2 is queued; only a finished one" in r.stderr


def test_a_failed_rerun_keeps_the_old_model_and_can_run_again(backend, photos, tmp_path):
    server = backend()
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"server": server.url, "token": server.token(), "part_size": 100_000}}))
    service = CloudService(load_settings(str(config), data_dir=tmp_path / "rig"))
    entry = service.enqueue(photos, {"quality": "preview"})
    assert Uploader(service.queue, retry=FAST).process(entry.id)
    assert service.queue.get(entry.id).state == "done"

    with pytest.raises(QueueError, match="quality must be one of"):      # checked before any request
        service.rerun(entry.id, {"quality": "ultra"})
    assert service.rerun(entry.id, {"quality": "high"}).state == "processing"
    with pytest.raises(QueueError, match="upload #1 is processing; only a finished one"):
        service.rerun(entry.id, {"quality": "high"})
    # the new result is refused on the rig (too many files): the entry fails, the old model stays
    assert Uploader(service.queue, retry=FAST, limits=UnpackLimits(max_entries=1)).process(entry.id)
    failed = service.queue.get(entry.id)
    assert failed.state == "failed" and "more than the limit of 1" in failed.error
    assert model_options(photos) == {"quality": "preview"}
    # failed after the server had it: it may run again
    assert failed.rerunnable
    assert service.rerun(entry.id, {"texture": False}).cloud_options["quality"] == "high"
    assert Uploader(service.queue, retry=FAST).process(entry.id)
    done = service.queue.get(entry.id)
    assert done.state == "done", done.error
    assert model_options(photos) == {"quality": "high", "texture": False}
    service.stop()
