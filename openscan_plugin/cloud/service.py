"""The cloud side of one rig process: the queue, its worker thread and the actions every front
end shares (web UI, GPIO trigger, daemon). Front ends call this, never the worker directly."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Optional

from ..config import config_path, make_private
from .client import CloudClient, CloudError, TransientError
from .package import ScanPackage
from .scan_options import check, resolve
from .upload_queue import ACTIVE, AlreadyQueued, Entry, QueueError, UploadQueue
from .uploader import QueueLock, Uploader, reset_entry

log = logging.getLogger(__name__)


class CloudService:
    def __init__(self, settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        make_private(config_path(settings.config_file))    # the token, written 0644 by older versions
        self.queue = UploadQueue(settings.queue_path)
        self.uploader: Optional[Uploader] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = QueueLock(settings.data_dir)

    # -- the worker ---------------------------------------------------------------------------
    def claim_queue(self) -> Optional[Uploader]:
        """This process's worker, if no other process (a daemon) works the queue; else None."""
        if not self._lock.acquire():
            log.info("another process works the upload queue; this one only queues")
            return None
        self.uploader = Uploader(self.queue, retry=self.settings.retry, limits=self.settings.result_limits)
        return self.uploader

    def start_worker(self) -> bool:
        """Work the queue in a thread; False when another process (a daemon) already does."""
        if self.claim_queue() is None:
            return False
        self._thread = threading.Thread(target=self.uploader.run_forever, name="upload-queue", daemon=True)
        self._thread.start()
        return True

    def release_queue(self) -> None:
        self._lock.release()

    @property
    def worker_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current network call; the entry in flight stays resumable."""
        if self.uploader:
            self.uploader.stop.set()
            self.uploader.wake.set()
        if self._thread:
            self._thread.join(timeout)
        self._lock.release()

    # -- actions ------------------------------------------------------------------------------
    def enqueue(self, folder, options=None) -> Entry:
        """The one way a folder enters the queue: refused while an upload of it is under way.
        `options`: this scan's cloud options over the rig-wide defaults (None: the defaults, as
        the daemon and the GPIO button send); checked before anything is queued."""
        resolved = self.settings.resolved_options(options)
        for e in self.queue.list(folder):
            if e.state in ACTIVE:
                raise AlreadyQueued(f"{Path(folder).name} is already being sent (upload #{e.id}, {e.state})")
        package = ScanPackage.from_folder(folder, self.settings.part_size)
        entry = self.queue.add(package, self.settings.server, self.settings.token, options=resolved)
        self._wake()
        return entry

    def cancel(self, entry_id: int) -> Entry:
        entry = self.queue.cancel(entry_id)
        if self.uploader:
            self.uploader.cancel_current(entry_id)
        return entry

    def retry(self, entry_id: int) -> Entry:
        entry = self.queue.retry(entry_id)
        self._wake()
        return entry

    def reset(self, entry_id: int, options=None) -> Entry:
        """Start over; with `options`, under new cloud options (the entry's own, changed)."""
        if options is not None:
            options = resolve(self.queue.get(entry_id).cloud_options, options)
        if self.uploader:
            self.uploader.cancel_current(entry_id)
        entry = reset_entry(self.queue, entry_id, self.settings.retry, options=options)
        self._wake()
        return entry

    def rerun(self, entry_id: int, options=None) -> Entry:
        """Run a finished upload's project again on the server with `options` over the entry's
        (no upload), then let the worker fetch the new model. The options are checked before
        any request; a refusal (409: still running, photos deleted; 400: credit, a bad option)
        is a QueueError and leaves the entry, and its model, as they were."""
        chosen = check(options)
        entry = self.queue.check_rerun(entry_id)
        client = CloudClient(entry.server, entry.token, retry=self.settings.retry.quick())
        try:
            client.rerun(entry.project, chosen)
        except TransientError:
            raise
        except CloudError as exc:
            raise QueueError(f"the server will not run upload #{entry_id} again: {exc}") from None
        finally:
            client.close()
        entry = self.queue.rerun(entry_id, entry.state, {**entry.cloud_options, **chosen})
        self._wake()
        return entry

    def cancel_active(self) -> Optional[Entry]:
        """The GPIO long press: cancel whatever is being sent right now."""
        entry = self.queue.next_active()
        return self.cancel(entry.id) if entry else None

    def view(self, entry: Entry) -> dict:
        """An entry as UIs show it, with the worker's live byte count when it is this process's."""
        d = entry.public()
        live = (self.uploader.live.get(entry.id) if self.uploader else None) or {}
        d.update(live)
        d["percent"] = _percent(d)
        return d

    def token_info(self) -> dict:
        if not (self.settings.server and self.settings.token):
            raise CloudError("no server or token configured yet")
        client = CloudClient(self.settings.server, self.settings.token, retry=self.settings.retry.quick())
        try:
            return client.token_info()
        finally:
            client.close()

    def save_token(self, server: str, token: str) -> dict:
        """Check the token against the server first, so a typo is caught now, not at upload."""
        client = CloudClient(server, token, retry=self.settings.retry.quick())
        try:
            info = client.token_info()
        finally:
            client.close()
        self.settings.save(server=server.rstrip("/"), token=token)
        return info

    def _wake(self) -> None:
        if self.uploader:
            self.uploader.wake.set()

    def status_line(self) -> str:
        """One line for systemd's STATUS= and logs."""
        e = self.queue.next_active()
        if e is None:
            return "idle"
        d = self.view(e)
        return f"#{e.id} {e.label}: {e.state} {d['percent']:.0f}%"


def _percent(d: dict) -> float:
    """One number for a progress bar: upload bytes, then the backend's own percent."""
    if d["state"] in ("queued",):
        return 0.0
    if d["state"] == "uploading":
        return 100.0 * d.get("bytes_done", 0) / max(d["size"], 1)
    if d["state"] == "processing":
        return float(d.get("progress") or 0.0)
    return 100.0 if d["state"] in ("downloading", "done") else 0.0
