"""The queue's worker: takes one entry at a time through upload -> start -> wait -> download.

Only one process works the queue at a time (an flock on `<data_dir>/upload.lock`, released by
the kernel when the process dies, so a killed daemon never blocks the next one). A network
error or 5xx leaves the entry where it is and the worker tries again after a back-off; a 4xx or
a changed folder marks it failed with the reason.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import zipfile
from pathlib import Path
from typing import Callable, Optional

from openscan_protocol import status as project_status

from .client import Cancelled, CloudClient, CloudError, TransientError
from .package import PackageError, ScanPackage
from .upload_queue import Entry, UploadQueue
from .retry import RetryPolicy
from .unpack import UnpackError, UnpackLimits, unpack_result

log = logging.getLogger(__name__)
MODEL_DIR = "model"          # OpenScan3 unpacks results into <project>/model/ as well
RESULT_DIR = "cloud"         # the downloaded result zip
SIDECAR_DIR = ".openscan-cloud"   # results of zip sets: <scans>/.openscan-cloud/<set>.zip/


def result_home(path) -> Path:
    """Where a set's result zip and model go: the scan folder itself, or for a set stored as
    one zip (OpenScan2) a hidden folder next to it, so the firmware's own listing is untouched."""
    path = Path(path)
    return path.parent / SIDECAR_DIR / path.name if path.suffix.lower() == ".zip" else path


class QueueLock:
    def __init__(self, data_dir):
        self.path = Path(data_dir) / "upload.lock"
        self.fd: Optional[int] = None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it (never waits)."""
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            return False

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Uploader:
    """Works `queue` entries. `stop` ends the loop (the entry in flight stays resumable);
    `cancel_current()` stops the entry in flight for good (the user pressed cancel)."""

    def __init__(self, queue: UploadQueue, *, retry: RetryPolicy = RetryPolicy(),
                 client_factory: Callable[..., CloudClient] = CloudClient,
                 idle_poll: float = 1.0, limits: UnpackLimits = UnpackLimits()):
        self.queue, self.retry, self.client_factory, self.limits = queue, retry, client_factory, limits
        self.idle_poll = idle_poll
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.current: Optional[int] = None
        self._cancel = threading.Event()
        self.live: dict = {}           # id -> {"bytes_done", "parts_done"}: fresher than the DB

    # -- loop ---------------------------------------------------------------------------------
    def run_forever(self) -> None:
        while not self.stop.is_set():
            entry = self.queue.next_active()
            if entry is None:
                self.wake.wait(self.idle_poll)
                self.wake.clear()
                continue
            if not self.process(entry.id):
                self.stop.wait(self.retry.entry_pause)   # transient trouble: back off, then resume

    def cancel_current(self, entry_id: int) -> None:
        if self.current == entry_id:
            self._cancel.set()

    def process(self, entry_id: int) -> bool:
        """Take one entry as far as it goes. False when it should be tried again later."""
        self.current = entry_id
        self._cancel.clear()
        cancel = _AnyEvent(self.stop, self._cancel)
        entry = self.queue.get(entry_id)
        client = self.client_factory(entry.server, entry.token, retry=self.retry, cancel=cancel)
        try:
            self._run(entry, client)
            return True
        except Cancelled:
            return True
        except TransientError as exc:
            log.warning("upload #%s: %s (will retry)", entry_id, exc)
            cancelled = not self.queue.update_unless_cancelled(entry_id, error=f"{exc} (retrying)")
            return cancelled                                # nothing to try again then
        except (CloudError, PackageError, OSError, zipfile.BadZipFile) as exc:
            log.error("upload #%s failed: %s", entry_id, exc)
            self.queue.update_unless_cancelled(entry_id, state="failed", error=str(exc))
            return True
        finally:
            client.close()
            self.current = None
            self.live.pop(entry_id, None)

    # -- one entry ----------------------------------------------------------------------------
    def _run(self, e: Entry, client: CloudClient) -> None:
        if e.state in ("queued", "uploading"):
            self._upload(e, client)
            e = self.queue.get(e.id)
        if e.state == "processing":
            info = client.wait(e.project, on_info=lambda i: self._on_info(e.id, i))
            if info["status"] != project_status.DONE:
                self._set(e.id, state="failed", error=info.get("error") or f"the server says {info['status']}")
                return
            self._set(e.id, state="downloading", dlink=info.get("dlink"), progress=100.0)
            e = self.queue.get(e.id)
        if e.state == "downloading":
            self._download(e, client)

    def _upload(self, e: Entry, client: CloudClient) -> None:
        package = ScanPackage.from_snapshot(e.folder, json.loads(e.snapshot), e.part_size)
        package.check_unchanged()
        info = client.project_info(e.project)
        first = e.parts_done
        if info is None:                               # new, or reset on the server meanwhile
            client.preflight(package.photos, package.size)
            links = client.create_project(e.project, package.photos, package.parts, package.size,
                                          options=e.cloud_options)
            first = 0
        elif info.get("status") == project_status.CREATED:
            links = info.get("ulink") or []
            if len(links) != package.parts:
                raise CloudError(f"the server offers {len(links)} upload links for {package.parts} parts")
        else:                                          # already started (the answer got lost)
            self._set(e.id, state="processing", parts_done=e.parts, bytes_done=e.size)
            return
        self._set(e.id, state="uploading", error=None, parts_done=first)
        last_save = [0.0]
        for index in range(first, package.parts):
            def progress(pos, index=index):
                self.live[e.id] = {"bytes_done": pos, "parts_done": index}
                if time.monotonic() - last_save[0] > 0.5:   # the DB is for other processes
                    last_save[0] = time.monotonic()
                    if not self.queue.update_unless_cancelled(e.id, bytes_done=pos):
                        self._cancel.set()                  # the part's body stops at its next chunk
            sent = client.upload_part(links[index], package, index, progress)
            self.queue.add_sent(e.id, sent)
            self._set(e.id, parts_done=index + 1, bytes_done=package.part_range(index)[1],
                      snapshot=json.dumps(package.snapshot()))   # with the CRCs this part taught
        client.start_project(e.project)
        self._set(e.id, state="processing", stage="queued", progress=0.0)

    def _on_info(self, entry_id: int, info: dict) -> None:
        values = {"stage": info.get("stage") or info.get("status"), "error": None}
        if isinstance(info.get("progress"), (int, float)):
            values["progress"] = float(info["progress"])
        self._set(entry_id, **values)

    def _download(self, e: Entry, client: CloudClient) -> None:
        if not e.dlink:
            info = client.project_info(e.project) or {}
            e.dlink = info.get("dlink")
            if not e.dlink:
                raise CloudError("the server offers no result to download")

        checked = [time.monotonic()]

        def progress(done, total):
            self.live[e.id] = {"download_done": done, "download_total": total}
            if time.monotonic() - checked[0] > 0.5:        # cancelled by another process?
                checked[0] = time.monotonic()
                if self.queue.get(e.id).state == "cancelled":
                    self._cancel.set()                      # the download stops at its next chunk
        model = fetch_result(client, e.dlink, e.folder, e.project, progress, self.limits)
        self._set(e.id, state="done", result=str(model), error=None)

    def _set(self, entry_id: int, **values) -> None:
        """Record a step; if the user cancelled the entry meanwhile, from this process or
        another, stop working on it (it stays `cancelled`)."""
        if not self.queue.update_unless_cancelled(entry_id, **values):
            self._cancel.set()
            raise Cancelled()


def reset_entry(queue: UploadQueue, entry_id: int, retry: RetryPolicy, options: Optional[dict] = None) -> Entry:
    """Start an entry over: reset its project on the server (credit back, parts gone) and
    queue the folder as it is now under a new project name (with new cloud `options` if given)."""
    e = queue.get(entry_id)
    client = CloudClient(e.server, e.token, retry=retry)
    try:
        if client.project_info(e.project) is not None:
            client.reset_project(e.project)
    finally:
        client.close()
    package = ScanPackage.from_folder(e.folder, e.part_size)
    return queue.reset(entry_id, dict(snapshot=json.dumps(package.snapshot()), photos=package.photos,
                                      size=package.size, parts=package.parts), options=options)


def fetch_result(client: CloudClient, dlink: str, folder, project: str,
                 progress: Callable[[int, int], None] = lambda done, total: None,
                 limits: UnpackLimits = UnpackLimits()) -> Path:
    """Download a project's result zip to <folder>/cloud/<project> (kept: the 'result link')
    and unpack it into <folder>/model/ within `limits` (`folder` as result_home() maps it);
    returns the model folder. The set must exist."""
    folder = result_home(folder)
    (folder / RESULT_DIR).mkdir(parents=True, exist_ok=True)
    zip_path = client.download(dlink, folder / RESULT_DIR / project, progress, max_bytes=limits.max_bytes)
    try:
        return unpack_result(zip_path, folder / MODEL_DIR, limits)
    except UnpackError:
        zip_path.unlink()            # a refused result is no 'result link' and must not take the space
        raise


class _AnyEvent:
    """is_set()/wait() over several events: the client stops on shutdown or on cancel."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.events[0].wait(min(left, 0.2))
        return True
