"""One scan as every front end sees it, from start to outcome (ScanController keeps the
running one, else the last one), and the discovery of a scan a crash cut short."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from openscan_protocol.manifest import FILENAME as MANIFEST, SCANNING

from .manifest import Manifest
from .request import ScanRequest
from .routine import ScanRoutine
from .states import ScanState


@dataclass
class ScanJob:
    """One scan, from start to outcome; what every front end shows."""
    name: str
    folder: Path
    request: ScanRequest
    source: str                               # web | button | cli
    total: int
    estimated_s: float
    state: ScanState = ScanState.STARTING   # changed only by ScanController._transition
    done: int = 0
    eta_s: Optional[float] = None
    photo: Optional[str] = None               # the latest photo's file name
    error: Optional[str] = None
    upload_error: Optional[str] = None
    started: float = field(default_factory=time.time)
    finished: Optional[float] = None
    routine: Optional[ScanRoutine] = None
    _over: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self._over.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._over.wait(timeout)

    def finish(self, when: float | None = None) -> None:
        """The run is over (its state says how)."""
        self.finished = when or time.time()
        self._over.set()

    def view(self) -> dict:
        end = self.finished or time.time()
        return {"name": self.name, "folder": str(self.folder), "source": self.source, "state": str(self.state),
                "done": self.done, "total": self.total, "eta_s": self.eta_s, "photo": self.photo,
                "estimated_s": self.estimated_s, "elapsed_s": round(end - self.started, 1),
                "error": self.error, "upload_error": self.upload_error, "settings": self.request.to_dict()}


def job_from_manifest(folder: Path, manifest, *, state: ScanState, source: str, upload: bool = True) -> ScanJob:
    """A job for a scan folder that exists already (to continue it, or to show it interrupted)."""
    plan = manifest.data["plan"]
    stack = int(plan.get("photos_per_point", 1))
    req = ScanRequest(preset="custom", points=len(plan["points"]), mode=plan.get("mode", "sphere"),
                      focus_stack=stack, upload=upload, name=folder.name)
    return ScanJob(folder.name, folder, req, source, total=len(plan["points"]) * stack,
                   estimated_s=plan.get("estimated_duration_s") or 0.0,
                   state=ScanState(state), done=len(manifest.photos),
                   photo=manifest.photos[-1]["file"] if manifest.photos else None)


def find_interrupted_scan(scans_dir: Path) -> Optional[ScanJob]:
    """After a power cut or a crash the newest scan's manifest still says "scanning": a job
    showing it as interrupted, so the page offers to continue it; else None."""
    if not scans_dir.is_dir():
        return None
    manifests = sorted(scans_dir.glob(f"*/{MANIFEST}"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        return None
    try:
        manifest = Manifest.load(manifests[-1].parent)
    except Exception:                     # unreadable: the scans list shows it as such
        return None
    if manifest.data.get("status") != SCANNING:
        return None
    job = job_from_manifest(manifests[-1].parent, manifest, state=ScanState.INTERRUPTED, source="earlier run")
    job.finish(manifests[-1].stat().st_mtime)
    return job
