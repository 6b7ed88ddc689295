"""The rig's one scan controller (one per process, owned by the daemon): the GPIO button, the web
page and the CLI all start, pause, resume and cancel scans here, so they all see the same scan.

It also owns the set-up actions that must not run during a scan (jog, home, ring light, camera
settings, test photo) and serialises camera use between the live preview and captures.
Every change bumps `version` and wakes `wait_change`, which the page's event stream follows.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from ..hardware.camera import CameraSettings
from ..hardware.stepper import LimitError
from .job import ScanJob, job_from_manifest
from .path import ScanPlan
from .request import ScanRequest, default_name, parse_request
from .routine import ProgressEvent, ScanCancelled, ScanRoutine

log = logging.getLogger(__name__)
MAX_JOG_DEG = 360.0


class Busy(RuntimeError):
    """The rig is doing something else (a scan, a move): answered with 409."""


class ScanController:
    def __init__(self, rig, service=None, scans_dir: Path | None = None, work_dir: Path | None = None):
        self.rig, self.service = rig, service
        self.scans_dir = Path(scans_dir or service.settings.scans_dir)
        self.work_dir = Path(work_dir or (service.settings.data_dir if service else self.scans_dir) / "scan-control")
        self.camera_settings = CameraSettings.from_profile(rig.profile.get("camera", {}))
        self.camera_lock = threading.RLock()  # preview renders vs. captures vs. settings
        self._lock = threading.RLock()        # the state below
        self._changed = threading.Condition(self._lock)
        self.version = 0
        self.job: Optional[ScanJob] = None    # the running scan, else the last one
        self.activity: Optional[str] = None   # moving | homing | photo: a set-up action runs
        self._stop_motion = threading.Event()
        self.closed = False
        self.job = self._interrupted_scan()

    def _interrupted_scan(self) -> Optional[ScanJob]:
        """After a power cut or a crash the newest scan's manifest still says "scanning": show
        it as interrupted, so the page offers to continue it."""
        from .manifest import Manifest
        if not self.scans_dir.is_dir():
            return None
        manifests = sorted(self.scans_dir.glob("*/manifest.json"), key=lambda p: p.stat().st_mtime)
        if not manifests:
            return None
        try:
            manifest = Manifest.load(manifests[-1].parent)
        except Exception:                     # unreadable: the scans list shows it as such
            return None
        if manifest.data.get("status") != "scanning":
            return None
        job = job_from_manifest(manifests[-1].parent, manifest, state="interrupted", source="earlier run")
        job.finished = manifests[-1].stat().st_mtime
        job._over.set()
        return job

    # -- state for front ends -------------------------------------------------------------------
    @property
    def scanning(self) -> bool:
        job = self.job
        return job is not None and job.running

    @property
    def state(self) -> str:
        if self.scanning:
            return self.job.state
        return self.activity or "idle"

    def status(self) -> dict:
        rig, job = self.rig, self.job
        rotor, turntable = rig.angles
        out = {"state": self.state, "version": self.version, "busy": self.state != "idle",
               "scan": job.view() if job else None, "upload": None,
               "light": bool(rig.light.is_lit),
               "angles": {"rotor": round(rotor, 2), "turntable": round(turntable % 360.0, 2)},
               "rotor_limits": [rig.rotor.min_angle, rig.rotor.max_angle],
               "can_home": getattr(rig.rotor, "endstop", None) is not None,
               "camera": self.camera_view()}
        if job and job.state == "complete" and self.service is not None:
            entry = self.service.queue.latest(job.folder)
            out["upload"] = self.service.view(entry) if entry else None
        return out

    def camera_view(self) -> dict:
        s = self.camera_settings
        return {"exposure_us": s.exposure_us, "analogue_gain": s.analogue_gain, "autofocus": s.autofocus,
                "lens_position": self.rig.camera.lens_position if s.lens_position is None else s.lens_position,
                "focus_stack": s.focus_stack, "model": self.rig.camera.model,
                "resolution": list(self.rig.camera.resolution)}

    def _bump(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until `version` is out of date (or timeout); returns the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version or self.closed, timeout)
            return self.version

    # -- scans ------------------------------------------------------------------------------------
    def plan(self, data) -> tuple[ScanRequest, ScanPlan]:
        """The checked settings and the path they give (planned once: the 2-opt is quadratic)."""
        return parse_request(data, self.rig.profile, self._defaults())

    def _defaults(self) -> dict:
        return {"focus_stack": self.camera_settings.focus_stack}

    def start(self, data, source: str = "web") -> ScanJob:
        """Start a scan in a thread; raises ValueError (bad settings) or Busy."""
        req, plan = self.plan(data)
        with self.camera_lock, self._lock:    # waits for a preview frame in flight to finish
            self._check_idle("start a scan")
            name = req.name or default_name(self.scans_dir)
            folder = self.scans_dir / name
            if folder.exists():
                raise Busy(f"a scan named {name!r} already exists; pick another name")
            settings = copy.deepcopy(self.camera_settings)
            settings.focus_stack = req.focus_stack
            job = ScanJob(name, folder, req, source, total=len(plan.points) * plan.photos_per_point,
                          estimated_s=plan.estimated_duration_s, eta_s=plan.estimated_duration_s)
            self.scans_dir.mkdir(parents=True, exist_ok=True)
            job.routine = ScanRoutine(self.rig, folder, plan=plan, settings=settings, name=name,
                                      on_event=lambda e: self._on_event(job, e))
            self.job = job
            threading.Thread(target=self._run, args=(job,), name=f"scan-{name}", daemon=True).start()
        self._bump()
        log.info("scan %s started from the %s: %d photos", name, source, job.total)
        return job

    def continue_scan(self, name, upload: bool = True, source: str = "web") -> ScanJob:
        """Take the missing photos of a cancelled or interrupted scan (same plan, same folder)."""
        from .manifest import Manifest, ManifestError
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError('send {"name": "<scan folder>"}')
        if not isinstance(upload, bool):
            raise ValueError("upload must be true or false")
        folder = self.scans_dir / name
        try:
            manifest = Manifest.load(folder)
        except (ManifestError, OSError, ValueError) as exc:
            raise ValueError(f"cannot continue {name}: {exc}") from None
        if manifest.data.get("status") == "complete":
            raise Busy(f"{name} is complete already")
        with self.camera_lock, self._lock:
            self._check_idle("continue a scan")
            job = job_from_manifest(folder, manifest, state="starting", source=source, upload=upload)
            job.routine = ScanRoutine(self.rig, folder, settings=copy.deepcopy(self.camera_settings), name=name,
                                      on_event=lambda e: self._on_event(job, e))
            job.routine.settings.focus_stack = job.request.focus_stack
            self.job = job
            threading.Thread(target=self._run, args=(job, True), name=f"scan-{name}", daemon=True).start()
        self._bump()
        return job

    def _run(self, job: ScanJob, resume: bool = False) -> None:
        try:
            job.routine.run(resume=resume)
            job.state = "complete"
            if job.request.upload and self.service is not None:
                self._upload(job)
        except ScanCancelled:
            job.state = "cancelled"
        except Exception as exc:              # hardware or disk: shown on the page, logged here
            log.exception("scan %s failed", job.name)
            job.state, job.error = "failed", str(exc) or type(exc).__name__
        finally:
            job.finished, job.eta_s = time.time(), 0.0 if job.state == "complete" else None
            job._over.set()
            self._bump()

    def _upload(self, job: ScanJob) -> None:
        try:
            entry = self.service.enqueue(job.folder)
            log.info("scan %s queued as upload #%s", job.name, entry.id)
        except Exception as exc:              # no token yet, already queued...: the scan stays
            job.upload_error = f"not uploaded: {exc}"

    def _on_event(self, job: ScanJob, e: ProgressEvent) -> None:
        with self._lock:
            if e.kind == "paused" and job.state != "cancelling":
                job.state = "paused"
            elif (e.kind == "resumed" and job.state != "cancelling") \
                    or (e.kind in ("started", "photo") and job.state == "starting"):
                job.state = "scanning"
            if e.total:
                job.done, job.total = e.done, e.total
            if e.eta_s is not None and e.kind in ("started", "photo"):
                job.eta_s = round(e.eta_s, 1)
            if e.photo:
                job.photo = e.photo
            if e.kind == "warning":
                job.error = e.message
        self._bump()

    def pause(self) -> ScanJob:
        job = self._running_job("pause")
        if job.state == "cancelling":
            raise Busy("the scan is being cancelled")
        job.routine.pause()
        job.state = "pausing"                 # "paused" once the routine reaches a safe point
        self._bump()
        return job

    def resume(self) -> ScanJob:
        job = self._running_job("resume")
        if not job.routine.paused:
            raise Busy("the scan is not paused")
        job.routine.resume()
        job.state = "scanning"
        self._bump()
        return job

    def cancel(self) -> ScanJob:
        """Stops after the current move or photo (the folder keeps what was taken)."""
        job = self._running_job("cancel")
        job.state = "cancelling"
        job.routine.cancel()
        self._bump()
        return job

    def _running_job(self, what: str) -> ScanJob:
        job = self.job
        if job is None or not job.running:
            raise Busy(f"no scan is running to {what}")
        return job

    def _check_idle(self, what: str) -> None:
        if self.scanning:
            raise Busy(f"cannot {what}: scan {self.job.name} is running")
        if self.activity:
            raise Busy(f"cannot {what}: the rig is busy ({self.activity})")

    # -- set-up actions -------------------------------------------------------------------------
    @contextmanager
    def _activity(self, name: str, what: str):
        """Mark the rig busy with a set-up action (Busy if a scan or another action runs)."""
        with self._lock:
            self._check_idle(what)
            self.activity = name
        self._bump()
        try:
            yield
        finally:
            with self._lock:
                self.activity = None
            self._bump()

    def jog(self, motor: str, degrees) -> dict:
        """Move one motor by `degrees` (rotor: inside its soft limits)."""
        if motor not in ("rotor", "turntable"):
            raise ValueError(f"motor must be rotor or turntable, not {motor!r}")
        if isinstance(degrees, bool) or not isinstance(degrees, (int, float)) or not abs(degrees) <= MAX_JOG_DEG:
            raise ValueError(f"degrees must be a number from -{MAX_JOG_DEG:g} to {MAX_JOG_DEG:g}")
        stepper = getattr(self.rig, motor)
        with self._activity("moving", f"move the {motor}"):
            self._stop_motion.clear()
            try:
                stepper.move_by(float(degrees), stop=self._stop_motion)
            except LimitError as exc:
                raise ValueError(f"{motor}: {exc}") from None
            finally:
                stepper.release()
        return self.status()

    def stop_motion(self) -> None:
        """Stop a jog mid-move (the position stays exact: steps are counted)."""
        self._stop_motion.set()

    def home(self) -> dict:
        if getattr(self.rig.rotor, "endstop", None) is None:
            raise ValueError("this rig has no rotor endstop to home against")
        with self._activity("homing", "home the rotor"):
            try:
                self.rig.home()
            finally:
                self.rig.rotor.release()
        return self.status()

    def set_light(self, on) -> dict:
        if not isinstance(on, bool):
            raise ValueError('send {"on": true} or {"on": false}')
        with self._lock:
            self._check_idle("switch the ring light (the scan drives it)")
            self.rig.light.on() if on else self.rig.light.off()
        self._bump()
        return self.status()

    def set_camera(self, data) -> dict:
        """Exposure, gain and focus for the preview, test photos and the next scans."""
        if not isinstance(data, dict) or not data:
            raise ValueError("send a JSON object with exposure_us, analogue_gain, autofocus and/or lens_position")
        allowed = {"exposure_us": (int, 100, 2_000_000), "analogue_gain": (float, 1.0, 16.0),
                   "lens_position": (float, 0.0, 32.0)}
        s = copy.deepcopy(self.camera_settings)
        for key, value in data.items():
            if key == "autofocus":
                if not isinstance(value, bool):
                    raise ValueError("autofocus must be true or false")
                s.autofocus = value
                if value:
                    s.lens_position = None
            elif key in allowed:
                kind, lo, hi = allowed[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                    raise ValueError(f"{key} must be a number from {lo} to {hi}, not {value!r}")
                setattr(s, key, kind(value))
                if key == "lens_position":
                    s.autofocus = False
            else:
                raise ValueError(f"unknown camera setting {key!r}")
        with self.camera_lock, self._lock:
            self._check_idle("change the camera settings")
            self.camera_settings = s
            self.rig.camera.apply(s)
            if s.autofocus and self.rig.camera.has_autofocus:
                self.rig.camera.autofocus()
        self._bump()
        return self.camera_view()

    def test_photo(self) -> Path:
        """One full photo with the ring light on, as a scan would take it."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / "test-photo.jpg"
        with self._activity("photo", "take a test photo"), self.camera_lock:
            cam, was_lit = self.rig.camera, self.rig.light.is_lit
            cam.apply(self.camera_settings)
            self.rig.light.on()
            try:
                if self.camera_settings.autofocus and cam.has_autofocus:
                    cam.autofocus()
                cam.capture(str(path))
            finally:
                if not was_lit:
                    self.rig.light.off()
        return path

    def preview_frame(self):
        """An RGB frame for the live preview, or None while a scan runs (the page then shows
        the scan's latest photo: the camera belongs to the scan)."""
        with self.camera_lock:
            if self.closed or self.scanning or self.activity == "photo":
                return None
            return self.rig.camera.preview()

    def latest_photo(self) -> Optional[Path]:
        job = self.job
        if job is None or job.photo is None:
            return None
        path = job.folder / job.photo
        return path if path.is_file() else None

    def close(self, timeout: float = 30.0) -> None:
        """Cancel a running scan and wait for it to stop (daemon shutdown)."""
        job = self.job
        if job is not None and job.running:
            job.routine.cancel()
            job.wait(timeout)
        self._stop_motion.set()
        with self._changed:
            self.closed = True
            self._changed.notify_all()
        with self.camera_lock:                # a preview frame in flight finishes first: a
            pass                              # renderer torn down mid-frame kills the exit status
