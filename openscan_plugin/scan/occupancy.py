"""Who holds the rig right now: a scan (the current job) or a set-up action (a jog, homing, a
test photo), never both. Shared by the scan lifecycle (scan/controller.py) and the set-up
actions (scan/setup.py); every change bumps `version` and wakes `wait_change`, which the
page's event stream follows."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Optional

from .errors import Busy
from .job import ScanJob


class RigOccupancy:
    def __init__(self):
        self.lock = threading.RLock()           # job, activity, the job's state
        self.camera_lock = threading.RLock()    # preview renders vs. captures vs. settings
        self._changed = threading.Condition(self.lock)
        self.version = 0
        self.job: Optional[ScanJob] = None      # the running scan, else the last one
        self.activity: Optional[str] = None     # moving | homing | photo: a set-up action runs
        self.closed = False

    @property
    def scanning(self) -> bool:
        job = self.job
        return job is not None and job.running

    @property
    def state(self) -> str:
        """What the rig does: the running scan's state, else the set-up action, else idle."""
        job = self.job
        if job is not None and job.running:
            return str(job.state)
        return self.activity or "idle"

    def bump(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def wait_change(self, version: int, timeout: float) -> int:
        """Block until `version` is out of date (or timeout); returns the current version."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version or self.closed, timeout)
            return self.version

    def check_idle(self, what: str) -> None:
        if self.scanning:
            raise Busy(f"cannot {what}: scan {self.job.name} is running")
        if self.activity:
            raise Busy(f"cannot {what}: the rig is busy ({self.activity})")

    @contextmanager
    def hold(self, activity: str, what: str):
        """Mark the rig busy with a set-up action (Busy if a scan or another action runs)."""
        with self.lock:
            self.check_idle(what)
            self.activity = activity
        self.bump()
        try:
            yield
        finally:
            with self.lock:
                self.activity = None
            self.bump()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()
