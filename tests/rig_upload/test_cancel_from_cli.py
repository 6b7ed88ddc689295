"""`openscan status --cancel N` from a shell while the daemon's worker sends entry N: the
worker notices at its next step (a part, a poll), stops, and the entry stays `cancelled`."""
import json
import time

import pytest

from openscan_plugin.cloud.client import CloudClient
from openscan_plugin.cloud.package import ScanPackage
from openscan_plugin.cloud.upload_queue import UploadQueue
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.cloud.uploader import Uploader

from .test_upload_cli import openscan


def until(condition, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


@pytest.fixture
def daemon_worker(backend, tmp_path):
    server = backend(env={"FAKE_STAGE_SECONDS": "2"})       # ~8 s of processing
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"server": server.url, "token": server.token(),
                                                             "part_size": 100_000}}))
    service = CloudService(load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path))
    assert service.start_worker()
    yield server, service
    service.stop()


def test_cancel_while_the_server_processes_stays_cancelled(daemon_worker, photos, tmp_path):
    server, service = daemon_worker
    entry = service.enqueue(photos)
    until(lambda: service.queue.get(entry.id).state == "processing", what="processing")
    r = openscan("status", "--cancel", entry.id, data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    until(lambda: service.uploader.current is None, timeout=10, what="the worker to let go")
    # the server finishes anyway; the rig does not fetch the result of a cancelled entry
    client = CloudClient(server.url, entry.token)
    until(lambda: client.project_info(entry.project)["status"] == "processing done", what="the server")
    time.sleep(1.5)                                         # a worker still polling would be done now
    e = service.queue.get(entry.id)
    assert e.state == "cancelled" and e.error == "cancelled by the user"
    assert not (photos / "model").exists()


def test_cancel_while_uploading_stops_before_the_next_part(backend, photos, tmp_path):
    server = backend()
    queue = UploadQueue(tmp_path / "uploads.sqlite")
    entry = queue.add(ScanPackage.from_folder(photos, 100_000), server.url, server.token())
    assert entry.parts == 3

    class CancelledAfterTheFirstPart(CloudClient):
        def upload_part(self, link, package, index, on_progress=lambda pos: None):
            sent = super().upload_part(link, package, index, on_progress)
            if index == 0:      # what `openscan status --cancel` does, on its own connection
                UploadQueue(tmp_path / "uploads.sqlite").cancel(entry.id)
            return sent

    assert Uploader(queue, client_factory=CancelledAfterTheFirstPart).process(entry.id)
    e = queue.get(entry.id)
    assert e.state == "cancelled" and e.parts_done < e.parts
    client = CloudClient(server.url, entry.token)
    assert client.project_info(entry.project)["status"] == "created"    # never started
