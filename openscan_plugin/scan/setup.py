"""The set-up actions a person takes before a scan: jog and home the motors, switch the ring
light, set the camera (exposure, gain, focus), take a test photo, watch the live preview.
None runs during a scan (they share the rig's RigOccupancy with the scan lifecycle), and the
camera is serialised between the preview and captures."""
from __future__ import annotations

import threading
from pathlib import Path

from ..hardware.camera import CameraSettings
from ..hardware.stepper import LimitError
from .errors import InvalidRequest
from .occupancy import RigOccupancy
from .request import parse_camera_change

MAX_JOG_DEG = 360.0


class RigSetup:
    def __init__(self, rig, occupancy: RigOccupancy, work_dir: Path):
        self.rig, self.occupancy, self.work_dir = rig, occupancy, Path(work_dir)
        # the preview, test photos and the next scans use these
        self.camera_settings = CameraSettings.from_profile(rig.profile.get("camera", {}))
        self._stop_motion = threading.Event()

    def jog(self, motor: str, degrees) -> None:
        """Move one motor by `degrees` (rotor: inside its soft limits)."""
        if motor not in ("rotor", "turntable"):
            raise InvalidRequest(f"motor must be rotor or turntable, not {motor!r}")
        if isinstance(degrees, bool) or not isinstance(degrees, (int, float)) or not abs(degrees) <= MAX_JOG_DEG:
            raise InvalidRequest(f"degrees must be a number from -{MAX_JOG_DEG:g} to {MAX_JOG_DEG:g}")
        stepper = getattr(self.rig, motor)
        with self.occupancy.hold("moving", f"move the {motor}"):
            self._stop_motion.clear()
            try:
                stepper.move_by(float(degrees), stop=self._stop_motion)
            except LimitError as exc:
                raise InvalidRequest(f"{motor}: {exc}") from None
            finally:
                stepper.release()

    def stop_motion(self) -> None:
        """Stop a jog mid-move (the position stays exact: steps are counted)."""
        self._stop_motion.set()

    def home(self) -> None:
        if getattr(self.rig.rotor, "endstop", None) is None:
            raise InvalidRequest("this rig has no rotor endstop to home against")
        with self.occupancy.hold("homing", "home the rotor"):
            try:
                self.rig.home()
            finally:
                self.rig.rotor.release()

    def set_light(self, on) -> None:
        if not isinstance(on, bool):
            raise InvalidRequest('send {"on": true} or {"on": false}')
        with self.occupancy.lock:
            self.occupancy.check_idle("switch the ring light (the scan drives it)")
            self.rig.light.on() if on else self.rig.light.off()
        self.occupancy.bump()

    def set_camera(self, data) -> None:
        """Exposure, gain and focus for the preview, test photos and the next scans."""
        settings = parse_camera_change(data, self.camera_settings)
        with self.occupancy.camera_lock, self.occupancy.lock:
            self.occupancy.check_idle("change the camera settings")
            self.camera_settings = settings
            self.rig.camera.apply(settings)
            if settings.autofocus and self.rig.camera.has_autofocus:
                self.rig.camera.autofocus()
        self.occupancy.bump()

    def test_photo(self) -> Path:
        """One full photo with the ring light on, as a scan would take it."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path = self.work_dir / "test-photo.jpg"
        with self.occupancy.hold("photo", "take a test photo"), self.occupancy.camera_lock:
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
        occ = self.occupancy
        with occ.camera_lock:
            if occ.closed or occ.scanning or occ.activity == "photo":
                return None
            return self.rig.camera.preview()

    def close(self) -> None:
        self._stop_motion.set()
