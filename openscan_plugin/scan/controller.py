"""The rig's one scan controller (one per process, built by compose.py): the GPIO button, the
web page and the CLI all start, pause, resume and cancel scans here, so they all see the same
scan. This module is the scan's lifecycle: the run in its thread and every change of its
state, made through `_transition` under the rig's lock and checked against scan/states.py.

The set-up actions (jog, home, light, camera, test photo, preview) are `controller.setup`
(scan/setup.py); what the page shows is web/scan_views.py. A finished scan goes to the cloud
through the injected `hand_off(folder)`, so the lifecycle knows no upload queue."""
from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from typing import Callable, Optional

from .errors import Busy, InvalidRequest
from .job import ScanJob, find_interrupted_scan, job_from_manifest
from .manifest import Manifest, ManifestError
from .occupancy import RigOccupancy
from .path import ScanPlan
from .request import ScanRequest, default_name, parse_request
from .routine import ProgressEvent, ScanCancelled, ScanRoutine
from .setup import RigSetup
from .states import ENDINGS, EVENT_MOVES, ScanState, can_move

__all__ = ["Busy", "ScanController"]
log = logging.getLogger(__name__)
S = ScanState


class ScanController:
    def __init__(self, rig, service=None, scans_dir: Path | None = None, work_dir: Path | None = None,
                 hand_off: Optional[Callable[[Path], object]] = None):
        """`service` (cloud.service.CloudService) gives the default folders and hand-off:
        scans in its scans dir, the queue's `enqueue` for finished scans that asked for it."""
        self.rig, self.service = rig, service
        self.scans_dir = Path(scans_dir or service.settings.scans_dir)
        self.work_dir = Path(work_dir or (service.settings.data_dir if service else self.scans_dir) / "scan-control")
        self.hand_off = hand_off or (service.enqueue if service is not None else None)
        self.occupancy = RigOccupancy()
        self.setup = RigSetup(rig, self.occupancy, self.work_dir)
        self.occupancy.job = find_interrupted_scan(self.scans_dir)

    # -- what front ends read ---------------------------------------------------------------
    @property
    def job(self) -> Optional[ScanJob]:
        """The running scan, else the last one (or one a crash interrupted)."""
        return self.occupancy.job

    @property
    def scanning(self) -> bool:
        return self.occupancy.scanning

    @property
    def state(self) -> str:
        return self.occupancy.state

    @property
    def version(self) -> int:
        return self.occupancy.version

    @property
    def closed(self) -> bool:
        return self.occupancy.closed

    def wait_change(self, version: int, timeout: float) -> int:
        return self.occupancy.wait_change(version, timeout)

    def latest_photo(self) -> Optional[Path]:
        job = self.job
        if job is None or job.photo is None:
            return None
        path = job.folder / job.photo
        return path if path.is_file() else None

    # -- starting -------------------------------------------------------------------------------
    def plan(self, data) -> tuple[ScanRequest, ScanPlan]:
        """The checked settings and the path they give (planned once: the 2-opt is quadratic)."""
        return parse_request(data, self.rig.profile, {"focus_stack": self.setup.camera_settings.focus_stack})

    def start(self, data, source: str = "web") -> ScanJob:
        """Start a scan in a thread; raises InvalidRequest (bad settings) or Busy."""
        req, plan = self.plan(data)
        occ = self.occupancy
        with occ.camera_lock, occ.lock:       # waits for a preview frame in flight to finish
            occ.check_idle("start a scan")
            name = req.name or default_name(self.scans_dir)
            folder = self.scans_dir / name
            if folder.exists():
                raise Busy(f"a scan named {name!r} already exists; pick another name")
            job = ScanJob(name, folder, req, source, total=len(plan.points) * plan.photos_per_point,
                          estimated_s=plan.estimated_duration_s, eta_s=plan.estimated_duration_s)
            self.scans_dir.mkdir(parents=True, exist_ok=True)
            job.routine = ScanRoutine(self.rig, folder, plan=plan, settings=self._settings(req.focus_stack),
                                      name=name, on_event=lambda e: self._on_event(job, e))
            self._launch(job, resume=False)
        log.info("scan %s started from the %s: %d photos", name, source, job.total)
        return job

    def continue_scan(self, name, upload: bool = True, source: str = "web") -> ScanJob:
        """Take the missing photos of a cancelled or interrupted scan (same plan, same folder)."""
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise InvalidRequest('send {"name": "<scan folder>"}')
        if not isinstance(upload, bool):
            raise InvalidRequest("upload must be true or false")
        folder = self.scans_dir / name
        try:
            manifest = Manifest.load(folder)
        except (ManifestError, OSError, ValueError) as exc:
            raise InvalidRequest(f"cannot continue {name}: {exc}") from None
        if manifest.data.get("status") == "complete":
            raise Busy(f"{name} is complete already")
        occ = self.occupancy
        with occ.camera_lock, occ.lock:
            occ.check_idle("continue a scan")
            job = job_from_manifest(folder, manifest, state=S.STARTING, source=source, upload=upload)
            job.routine = ScanRoutine(self.rig, folder, settings=self._settings(job.request.focus_stack),
                                      name=name, on_event=lambda e: self._on_event(job, e))
            self._launch(job, resume=True)
        return job

    def _settings(self, focus_stack: int):
        settings = copy.deepcopy(self.setup.camera_settings)
        settings.focus_stack = focus_stack
        return settings

    def _launch(self, job: ScanJob, resume: bool) -> None:
        self.occupancy.job = job
        threading.Thread(target=self._run, args=(job, resume), name=f"scan-{job.name}", daemon=True).start()
        self.occupancy.bump()

    def _run(self, job: ScanJob, resume: bool) -> None:
        try:
            job.routine.run(resume=resume)
            self._transition(job, S.COMPLETE)
            if job.request.upload and self.hand_off is not None:
                self._hand_off(job)
        except ScanCancelled:
            self._transition(job, S.CANCELLED)
        except Exception as exc:              # hardware or disk: shown on the page, logged here
            log.exception("scan %s failed", job.name)
            job.error = str(exc) or type(exc).__name__
            self._transition(job, S.FAILED)
        finally:
            job.eta_s = 0.0 if job.state == S.COMPLETE else None
            job.finish()
            self.occupancy.bump()

    def _hand_off(self, job: ScanJob) -> None:
        try:
            entry = self.hand_off(job.folder)
            log.info("scan %s queued as upload #%s", job.name, getattr(entry, "id", "?"))
        except Exception as exc:              # no token yet, already queued...: the scan stays
            job.upload_error = f"not uploaded: {exc}"

    # -- the state machine ----------------------------------------------------------------------
    def _transition(self, job: ScanJob, new: ScanState) -> None:
        """The one place a scan's state changes: under the lock, along scan/states.py's table."""
        with self.occupancy.lock:
            if job.state == new:
                return
            if not can_move(job.state, new):
                raise Busy(f"the scan is {job.state}; it cannot become {new}")
            job.state = new
        self.occupancy.bump()

    def _on_event(self, job: ScanJob, e: ProgressEvent) -> None:
        with self.occupancy.lock:
            sources, target = EVENT_MOVES.get(e.kind, ((), None))
            if job.state in sources:
                self._transition(job, target)
            if e.total:
                job.done, job.total = e.done, e.total
            if e.eta_s is not None and e.kind in ("started", "photo"):
                job.eta_s = round(e.eta_s, 1)
            if e.photo:
                job.photo = e.photo
            if e.kind == "warning":
                job.error = e.message
        self.occupancy.bump()

    def pause(self) -> ScanJob:
        with self.occupancy.lock:
            job = self._running_job("pause")
            if job.state == S.CANCELLING:
                raise Busy("the scan is being cancelled")
            if job.state not in (S.PAUSING, S.PAUSED):   # pausing twice changes nothing
                self._transition(job, S.PAUSING)        # "paused" once the routine reaches a safe point
                job.routine.pause()
        return job

    def resume(self) -> ScanJob:
        with self.occupancy.lock:
            job = self._running_job("resume")
            if job.state not in (S.PAUSING, S.PAUSED):
                raise Busy("the scan is not paused")
            self._transition(job, S.SCANNING)
            job.routine.resume()
        return job

    def cancel(self) -> ScanJob:
        """Stops after the current move or photo (the folder keeps what was taken)."""
        with self.occupancy.lock:
            job = self._running_job("cancel")
            self._transition(job, S.CANCELLING)
            job.routine.cancel()
        return job

    def _running_job(self, what: str) -> ScanJob:
        job = self.job
        if job is None or not job.running or job.state in ENDINGS:
            raise Busy(f"no scan is running to {what}")
        return job

    def close(self, timeout: float = 30.0) -> None:
        """Cancel a running scan and wait for it to stop (daemon shutdown)."""
        job = self.job
        try:
            self.cancel()
        except Busy:                          # nothing to cancel (a finished scan may still be
            pass                              # handing off its folder: wait for that too)
        if job is not None:
            job.wait(timeout)
        self.setup.close()
        self.occupancy.close()
        with self.occupancy.camera_lock:      # a preview frame in flight finishes first: a
            pass                              # renderer torn down mid-frame kills the exit status
