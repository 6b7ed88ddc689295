"""The scan routine: move, settle, light, (focus,) capture, record, for every plan point.

Crash safety: photos are written atomically under deterministic names, and a photo
counts only once its manifest entry is saved (atomically, after the file). The rig's
position is kept in `.rig_position.json` before and after every move, so `resume`
knows where the motors are after a power cut. Nothing lost, nothing duplicated.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from openscan_protocol.atomic import write_atomically

from ..hardware.camera import CameraSettings
from .geometry import intrinsics_from_sensor
from .manifest import Manifest, photo_name
from .path import ScanPlan

POSITION_FILE = ".rig_position.json"


class ScanCancelled(Exception):
    pass


@dataclass
class ProgressEvent:
    kind: str                  # started | photo | paused | resumed | cancelled | done | warning
    done: int                  # photos complete
    total: int                 # photos in the whole scan
    eta_s: Optional[float] = None
    photo: Optional[str] = None
    message: str = ""


def read_position(folder) -> Optional[dict]:
    p = Path(folder) / POSITION_FILE
    return json.loads(p.read_text()) if p.exists() else None


def _write_position(folder: Path, state: dict) -> None:
    """Durable before the motors move on: a resume after a power cut starts from it."""
    write_atomically(folder / POSITION_FILE, json.dumps(state))


class ScanRoutine:
    """Runs one scan on an injected rig. pause()/resume()/cancel() are thread-safe."""

    def __init__(self, rig, folder, *, plan: ScanPlan | None = None, settings: CameraSettings | None = None,
                 on_event: Callable[[ProgressEvent], None] | None = None, name: str | None = None):
        self.rig, self.folder = rig, Path(folder)
        self.plan, self.name = plan, name
        self.settings = settings or CameraSettings.from_profile(rig.profile.get("camera", {}))
        self.on_event = on_event or (lambda e: None)
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.manifest: Manifest | None = None

    # -- control (from any thread) ---------------------------------------------------------
    def pause(self):
        self._running.clear()

    def resume(self):
        self._running.set()

    def cancel(self):
        self._cancel.set()
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # -- the scan --------------------------------------------------------------------------
    def run(self, resume: bool = False) -> Manifest:
        self.manifest = self._open_manifest(resume)
        plan = self.manifest.data["plan"]
        points, stack = plan["points"], int(plan.get("photos_per_point", 1))
        total = len(points) * stack
        done = self.manifest.done_keys()
        self._restore_position(resume)
        self.rig.camera.apply(self.settings)
        self.on_event(ProgressEvent("started", len(done), total, plan.get("estimated_duration_s")))
        t0, shot_here = time.monotonic(), 0
        try:
            for index, (rotor, turntable) in enumerate(points):
                missing = [s for s in range(stack) if (index, s) not in done]
                if not missing:
                    continue
                self._checkpoint(len(self.manifest.photos), total)
                self._move(rotor, turntable)
                self.rig.settle()
                self.rig.light.on()
                lenses = self._focus_positions(stack)
                for s in missing:
                    self._checkpoint(len(self.manifest.photos), total)
                    self._shoot(index, s, stack, lenses[s])
                    shot_here += 1
                    n_done = len(self.manifest.photos)
                    rate = (time.monotonic() - t0) / shot_here
                    self.on_event(ProgressEvent("photo", n_done, total, rate * (total - n_done),
                                                photo_name(index, s, stack)))
            self.manifest.set_status("complete")
            self.on_event(ProgressEvent("done", len(self.manifest.photos), total, 0.0))
            return self.manifest
        except ScanCancelled:
            self.manifest.set_status("cancelled")
            self.on_event(ProgressEvent("cancelled", len(self.manifest.photos), total))
            raise
        finally:
            self.rig.light.off()
            self.rig.rotor.release()
            self.rig.turntable.release()

    def _open_manifest(self, resume: bool) -> Manifest:
        if resume:
            return Manifest.load(self.folder)
        if self.plan is None:
            raise ValueError("a new scan needs a plan")
        cam, spec = self.rig.camera, self.rig.profile.get("camera", {})
        w, h = cam.resolution
        settings = dict(self.settings.to_dict(), resolution=[w, h])
        camera = {"model": cam.model, "resolution": [w, h], "settings": settings}
        if spec.get("focal_length_mm") and spec.get("pixel_size_um") and spec.get("resolution"):
            # a prior for uncalibrated rigs: the module's nominal lens, scaled to these photos
            K = intrinsics_from_sensor(w, h, spec["focal_length_mm"], spec["pixel_size_um"], spec["resolution"][0])
            camera.update(focal_length_mm=spec["focal_length_mm"], pixel_size_um=spec["pixel_size_um"],
                          sensor_resolution=list(spec["resolution"]), nominal_K=K.tolist())
        return Manifest.create(self.folder, profile=self.rig.profile, camera=camera,
                               plan=self.plan.to_dict(), intrinsics=self.rig.profile.get("calibration"),
                               name=self.name)

    def _restore_position(self, resume: bool) -> None:
        """Where are the motors? New scan: home the rotor (if it has an endstop) and call
        the turntable's current angle 0. Resume: take the last recorded position, then
        re-home the rotor if possible; warn if the cut happened mid-move."""
        rig = self.rig
        state = read_position(self.folder) if resume else None
        if state:
            rig.rotor.position = rig.rotor.steps_for(state["rotor"])
            rig.turntable.position = rig.turntable.steps_for(state["turntable"])
            if state.get("moving"):
                self.on_event(ProgressEvent("warning", 0, 0, message=(
                    "the power went off during a move; assuming the motors stayed at the move's start")))
        else:
            rig.turntable.position = 0
        rig.home()
        _write_position(self.folder, {"rotor": rig.rotor.angle, "turntable": rig.turntable.angle})

    def _move(self, rotor: float, turntable: float) -> None:
        here = {"rotor": self.rig.rotor.angle, "turntable": self.rig.turntable.angle}
        _write_position(self.folder, {**here, "moving": True, "target": [rotor, turntable]})
        self.rig.move_to(rotor, turntable, stop=self._cancel)
        _write_position(self.folder, {"rotor": self.rig.rotor.angle, "turntable": self.rig.turntable.angle})
        if self._cancel.is_set():
            raise ScanCancelled()

    def _focus_positions(self, stack: int) -> list:
        cam, s = self.rig.camera, self.settings
        centre = s.lens_position
        if s.autofocus and cam.has_autofocus:
            centre = cam.autofocus()
        if centre is None:
            return [None] * stack
        offsets = [(k - (stack - 1) / 2.0) * s.focus_stack_step for k in range(stack)]
        return [max(centre + o, 0.0) for o in offsets]

    def _shoot(self, index: int, stack_slot: int, stack: int, lens: Optional[float]) -> None:
        cam = self.rig.camera
        if lens is not None:
            cam.set_lens_position(lens)
        name = photo_name(index, stack_slot, stack)
        capture = cam.capture(str(self.folder / name))
        rotor, turntable = self.rig.angles
        self.manifest.add_photo({
            "file": name, "index": index, "stack": stack_slot,
            "rotor_deg": round(rotor, 5), "turntable_deg": round(turntable % 360.0, 5),
            "lens_position": capture.metadata.get("LensPosition", lens),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "exposure_us": capture.metadata.get("ExposureTime"),
            "analogue_gain": capture.metadata.get("AnalogueGain"),
        })

    def _checkpoint(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise ScanCancelled()
        if not self._running.is_set():
            self.rig.light.off()
            self.on_event(ProgressEvent("paused", done, total))
            while not self._running.wait(0.1):
                pass
            if self._cancel.is_set():
                raise ScanCancelled()
            self.on_event(ProgressEvent("resumed", done, total))
