"""The persistent upload queue: one SQLite file in the rig's data dir.

Every state change is committed before the next step starts, so after a reboot or a kill the
worker picks up where it stopped (the part in flight resumes from the server's offset). The
states, in order: queued -> uploading -> processing -> downloading -> done; failed (with a
message; `retry` resumes, `reset` starts over with a new project) and cancelled. `rerun` takes a
done entry, or one that failed once the server had it processing, back to processing: the
server runs the same project again with other options, the worker waits and fetches the new model.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

from ..config import make_private

ACTIVE = ("queued", "uploading", "processing", "downloading")   # the worker resumes these
STATES = ACTIVE + ("done", "failed", "cancelled")

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    folder TEXT NOT NULL,
    label TEXT NOT NULL,
    server TEXT NOT NULL,
    token TEXT NOT NULL,
    project TEXT NOT NULL,
    part_size INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    photos INTEGER NOT NULL,
    size INTEGER NOT NULL,
    parts INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    parts_done INTEGER NOT NULL DEFAULT 0,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    stage TEXT,
    progress REAL,
    error TEXT,
    dlink TEXT,
    result TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    options TEXT
);
CREATE INDEX IF NOT EXISTS uploads_state ON uploads(state);
CREATE INDEX IF NOT EXISTS uploads_folder ON uploads(folder, id);
"""


@dataclass
class Entry:
    id: int
    folder: str
    label: str
    server: str
    token: str
    project: str
    part_size: int
    snapshot: str
    photos: int
    size: int
    parts: int
    state: str
    parts_done: int
    bytes_done: int
    bytes_sent: int
    stage: Optional[str]
    progress: Optional[float]
    error: Optional[str]
    dlink: Optional[str]
    result: Optional[str]
    created: float
    updated: float
    options: Optional[str] = None    # JSON: the scan's cloud options (cloud/scan_options.py)

    @property
    def cloud_options(self) -> dict:
        """The options this upload was queued with ({} for entries from before they existed:
        the server's defaults)."""
        return json.loads(self.options) if self.options else {}

    @property
    def rerunnable(self) -> bool:
        """Finished on the server, so rerunProject may run it again: done, or failed after the
        project was started (all parts sent and a stage seen; a reset clears the stage)."""
        return self.state == "done" or (self.state == "failed" and self.parts_done >= self.parts
                                        and self.stage is not None)

    def public(self) -> dict:
        """What UIs see (never the token)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("token", "snapshot")}
        d["options"] = self.cloud_options
        d["active"] = self.state in ACTIVE
        d["rerunnable"] = self.rerunnable
        return d


class QueueError(ValueError):
    pass


class AlreadyQueued(QueueError):
    """The folder has an upload in progress already (the web API answers 409)."""


class UploadQueue:
    """A thin store: connections are per call, so any thread or process may use it."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the entries hold the token: owner-only, before SQLite creates the file with the umask's mode
        make_private(self.path, create=True)
        make_private(f"{self.path}-wal", f"{self.path}-shm")
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            columns = {r["name"] for r in db.execute("PRAGMA table_info(uploads)")}
            if "options" not in columns:             # a queue from before per-scan options
                db.execute("ALTER TABLE uploads ADD COLUMN options TEXT")

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def add(self, package, server: str, token: str, label: Optional[str] = None,
            options: Optional[dict] = None) -> Entry:
        """Queue a packaged folder (its file list is snapshotted now) with its cloud options
        (checked by the caller, see CloudService.enqueue), kept with the entry for every retry."""
        if not server or not token:
            raise QueueError("no server/token: give --server and --token or set them in the rig config")
        folder = str(Path(package.folder).resolve())
        label = label or Path(folder).name
        now = time.time()
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO uploads (folder, label, server, token, project, part_size, snapshot, photos,"
                " size, parts, created, updated, options) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (folder, label, server.rstrip("/"), token, unique_name(label), package.part_size,
                 json.dumps(package.snapshot()), package.photos, package.size, package.parts, now, now,
                 json.dumps(options) if options is not None else None))
            return self.get(cur.lastrowid)

    def get(self, entry_id: int) -> Entry:
        with self._db() as db:
            row = db.execute("SELECT * FROM uploads WHERE id=?", (entry_id,)).fetchone()
        if row is None:
            raise QueueError(f"no upload #{entry_id}")
        return Entry(**dict(row))

    def list(self, folder: Optional[str] = None) -> list[Entry]:
        with self._db() as db:
            if folder:
                rows = db.execute("SELECT * FROM uploads WHERE folder=? ORDER BY id",
                                  (str(Path(folder).resolve()),)).fetchall()
            else:
                rows = db.execute("SELECT * FROM uploads ORDER BY id").fetchall()
        return [Entry(**dict(r)) for r in rows]

    def latest(self, folder=None) -> Optional[Entry]:
        """The newest entry (of `folder`, when given), or None."""
        with self._db() as db:
            if folder:
                row = db.execute("SELECT * FROM uploads WHERE folder=? ORDER BY id DESC LIMIT 1",
                                 (str(Path(folder).resolve()),)).fetchone()
            else:
                row = db.execute("SELECT * FROM uploads ORDER BY id DESC LIMIT 1").fetchone()
        return Entry(**dict(row)) if row else None

    def latest_by_folder(self) -> dict[str, Entry]:
        """{resolved folder: its newest entry} in one query (the scans list polls this)."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM uploads WHERE id IN"
                              " (SELECT MAX(id) FROM uploads GROUP BY folder)").fetchall()
        return {r["folder"]: Entry(**dict(r)) for r in rows}

    def next_active(self) -> Optional[Entry]:
        """The oldest entry the worker should (continue to) work on."""
        marks = ",".join("?" * len(ACTIVE))
        with self._db() as db:
            row = db.execute(f"SELECT * FROM uploads WHERE state IN ({marks}) ORDER BY id LIMIT 1",
                             ACTIVE).fetchone()
        return Entry(**dict(row)) if row else None

    def update(self, entry_id: int, **values) -> None:
        self._update(entry_id, values)

    def update_unless_cancelled(self, entry_id: int, **values) -> bool:
        """The worker's writes: an entry the user cancelled meanwhile (perhaps from another
        process, `openscan status --cancel`) keeps `cancelled`; False then."""
        return self._update(entry_id, values, "AND state != 'cancelled'")

    def _update(self, entry_id: int, values: dict, condition: str = "", args: tuple = ()) -> bool:
        if "state" in values and values["state"] not in STATES:
            raise QueueError(f"unknown state {values['state']!r}")
        values = {**values, "updated": time.time()}
        cols = ", ".join(f"{k}=?" for k in values)
        with self._db() as db:
            cur = db.execute(f"UPDATE uploads SET {cols} WHERE id=? {condition}",
                             (*values.values(), entry_id, *args))
            return cur.rowcount > 0

    def add_sent(self, entry_id: int, sent: int) -> None:
        with self._db() as db:
            db.execute("UPDATE uploads SET bytes_sent = bytes_sent + ? WHERE id=?", (sent, entry_id))

    # -- user actions -------------------------------------------------------------------------
    def retry(self, entry_id: int) -> Entry:
        """A failed or cancelled entry goes back to work where it stopped (same project, same
        options; new options need a new project: `reset`)."""
        e = self.get(entry_id)
        if e.state not in ("failed", "cancelled"):
            raise QueueError(f"upload #{entry_id} is {e.state}; only failed or cancelled ones can be retried")
        self.update(entry_id, state="uploading" if e.parts_done or e.bytes_done else "queued", error=None)
        return self.get(entry_id)

    def reset(self, entry_id: int, snapshot: Optional[dict] = None, options: Optional[dict] = None) -> Entry:
        """Start over with a fresh project name (the worker creates it), with new cloud `options`
        when given. The caller resets the old project on the server (see worker.reset_entry) so
        its credit comes back."""
        e = self.get(entry_id)
        values = dict(state="queued", project=unique_name(e.label), parts_done=0, bytes_done=0,
                      stage=None, progress=None, error=None, dlink=None, result=None)
        if snapshot:
            values.update(snapshot)
        if options is not None:
            values["options"] = json.dumps(options)
        self.update(entry_id, **values)
        return self.get(entry_id)

    def check_rerun(self, entry_id: int) -> Entry:
        """The entry, if the server can run its project again (see Entry.rerunnable)."""
        e = self.get(entry_id)
        if not e.rerunnable:
            what = "failed before the server started it" if e.state == "failed" else e.state
            raise QueueError(f"upload #{entry_id} is {what}; only a finished one (done, or failed on the "
                             "server) can run again")
        return e

    def rerun(self, entry_id: int, was: str, options: dict) -> Entry:
        """The server accepted rerunProject: back to `processing` with the new `options`, from
        the state `was` it was read in (so a concurrent change is not overwritten). The worker
        then waits, downloads and unpacks; the old model stays until the new one is complete.
        `result` keeps naming it meanwhile."""
        values = dict(state="processing", stage="queued", progress=0.0, error=None, dlink=None,
                      options=json.dumps(options))
        if not self._update(entry_id, values, "AND state = ?", (was,)):
            raise QueueError(f"upload #{entry_id} changed meanwhile; look at it again")
        return self.get(entry_id)

    def cancel(self, entry_id: int) -> Entry:
        e = self.get(entry_id)
        if e.state not in ACTIVE:
            raise QueueError(f"upload #{entry_id} is {e.state}; nothing to cancel")
        self.update(entry_id, state="cancelled", error="cancelled by the user")
        return self.get(entry_id)


def unique_name(label: str) -> str:
    """A project name the server has not seen from this token: `<label>-<epoch ms>.zip`."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in label).strip("._") or "scan"
    return f"{safe[:60]}-{int(time.time() * 1000)}.zip"
