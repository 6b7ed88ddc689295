"""Where the rig's hardware comes from: one small interface, two backends. `PiBackend` opens
the real rig (gpiozero's default pins, the picamera2 camera); `SimulatedBackend`
(hardware/sim/rig.py) opens the same Rig over mock pins with simulated motors and a rendered
camera. `choose_backend` is the one place that picks, once per process (as gpiozero picks its
pin factory once); everything above works on the Rig a backend opens and never asks which."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:                               # the CLI loads this module for every command:
    from .rig import Rig                        # gpiozero and numpy only when a rig is opened


class RigUnavailable(RuntimeError):
    """The backend cannot open a rig on this machine (a message a person can act on)."""


class RigBackend(Protocol):
    def open_rig(self, profile: dict, *, last_position: Optional[dict] = None,
                 calibration_board=None) -> Rig:
        """The rig of `profile`. `last_position` ({"rotor": deg, "turntable": deg}, from an
        interrupted scan's folder) is where the mechanism was left; `calibration_board`
        (scan.calibrate.Board) is what lies on the turntable for `openscan calibrate`."""


class PiBackend:
    """The real rig: the mechanism stands where it was left and the camera sees what lies on
    the turntable, so both hints are facts of the world here, not settings."""

    def open_rig(self, profile: dict, *, last_position=None, calibration_board=None) -> Rig:
        from .picamera2_camera import Picamera2Camera
        from .rig import build_rig
        try:
            camera = Picamera2Camera.from_profile(profile)
        except ImportError:
            raise RigUnavailable("picamera2 is not available (install python3-picamera2 on the Pi, "
                                 "or use --simulate)") from None
        return build_rig(profile, camera)


def choose_backend(simulate: bool) -> RigBackend:
    """The one choice between the real rig and the simulation."""
    if simulate:
        from .sim.rig import SimulatedBackend   # open3d and mock pins: loaded only when simulating
        return SimulatedBackend()
    return PiBackend()
