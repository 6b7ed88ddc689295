"""What a front end may ask of the rig: a scan's settings and the camera's, parsed and checked
here, so the web page, the button and the CLI get the same rules and the same error messages
(an InvalidRequest is a person's mistake; the web answers it with 400)."""
from __future__ import annotations

import copy
import math
import re
import time
from dataclasses import asdict, dataclass, field

from ..hardware.camera import CameraSettings
from .errors import InvalidRequest
from .path import ScanPlan, plan_scan

# scan presets: starting points for the settings (the page fills its fields from them). "Profile"
# is the rig's model (mini, classic) only.
PRESETS = {
    "quick": {"points": 24, "mode": "sphere", "focus_stack": 1},
    "standard": {"points": 60, "mode": "sphere", "focus_stack": 1},
    "detailed": {"points": 120, "mode": "sphere", "focus_stack": 1},
    "turntable": {"points": 24, "mode": "turntable", "rings": [0.0, 30.0], "focus_stack": 1},
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_POINTS, MAX_STACK = 2000, 20


@dataclass
class ScanRequest:
    preset: str = "standard"
    points: int = 60
    mode: str = "sphere"                  # sphere (Fibonacci) or turntable (rings)
    rings: list = field(default_factory=lambda: [0.0])
    rotor_range: list | None = None       # [min, max] degrees; None = the rig's limits
    focus_stack: int = 1
    upload: bool = True                   # queue the scan for upload once it is complete
    name: str | None = None               # folder name; None = scan-<date>-<time>

    def to_dict(self) -> dict:
        return asdict(self)

    def plan(self, rig_profile: dict) -> ScanPlan:
        lo, hi = self.rotor_range or (None, None)
        return plan_scan(rig_profile, self.points, mode=self.mode, rings=self.rings,
                         photos_per_point=self.focus_stack, min_elev=lo, max_elev=hi)


def _number(data: dict, key: str, kind=float, lo=None, hi=None):
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(f"{key} must be a number, not {value!r}")
    if kind is int and value != int(value):
        raise InvalidRequest(f"{key} must be a whole number, not {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidRequest(f"{key} must be between {lo} and {hi}, not {value!r}")
    return kind(value)


def parse_request(data, rig_profile: dict, defaults: dict | None = None) -> tuple[ScanRequest, ScanPlan]:
    """A ScanRequest from JSON-like `data` (missing keys: the preset's, then `defaults`)
    and its planned path (planning is a check too, and not cheap: callers use this one).
    Raises InvalidRequest with a message a person can act on."""
    if not isinstance(data, dict):
        raise InvalidRequest("send a JSON object with the scan settings")
    if "profile" in data and "preset" not in data:  # the key's name before 2026-12
        data = {("preset" if k == "profile" else k): v for k, v in data.items()}
    known = set(ScanRequest.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidRequest(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    preset = data.get("preset", "standard")
    if preset not in PRESETS and preset != "custom":
        raise InvalidRequest(f"unknown preset {preset!r}; use {', '.join(PRESETS)} or custom")
    merged = {**(defaults or {}), **PRESETS.get(preset, {}), **data}
    req = ScanRequest(preset=preset)
    if "points" in merged:
        req.points = _number(merged, "points", int, 1, MAX_POINTS)
    req.mode = merged.get("mode", "sphere")
    if req.mode not in ("sphere", "turntable"):
        raise InvalidRequest(f"mode must be sphere or turntable, not {req.mode!r}")
    if "rings" in merged:
        rings = merged["rings"]
        if not isinstance(rings, list) or not rings or len(rings) > 20:
            raise InvalidRequest("rings must be a list of 1 to 20 rotor angles")
        req.rings = [_number({"ring": r}, "ring") for r in rings]
    if merged.get("rotor_range") is not None:
        rr = merged["rotor_range"]
        if not isinstance(rr, list) or len(rr) != 2:
            raise InvalidRequest("rotor_range must be [min, max] in degrees")
        lo, hi = (_number({"rotor_range": v}, "rotor_range") for v in rr)
        rotor = rig_profile["motors"]["rotor"]
        if lo >= hi:
            raise InvalidRequest(f"rotor_range: min ({lo}) must be below max ({hi})")
        if hi < rotor["min_angle"] or lo > rotor["max_angle"]:
            raise InvalidRequest(f"rotor_range {lo}..{hi} is outside the rotor's "
                             f"{rotor['min_angle']}..{rotor['max_angle']} degrees")
        req.rotor_range = [lo, hi]
    if "focus_stack" in merged:
        req.focus_stack = _number(merged, "focus_stack", int, 1, MAX_STACK)
    upload = merged.get("upload", True)
    if not isinstance(upload, bool):
        raise InvalidRequest(f"upload must be true or false, not {upload!r}")
    req.upload = upload
    name = merged.get("name")
    if name not in (None, ""):
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidRequest("name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
        req.name = name
    if req.mode == "turntable" and len(req.rings) * req.points > MAX_POINTS:
        raise InvalidRequest(f"{len(req.rings)} rings x {req.points} points is more than {MAX_POINTS} positions")
    plan = req.plan(rig_profile)   # the path planner's own checks (rings inside the rotor range, ...)
    return req, plan


CAMERA_LIMITS = {"exposure_us": (int, 100, 2_000_000), "analogue_gain": (float, 1.0, 16.0),
                 "lens_position": (float, 0.0, 32.0)}


def parse_camera_change(data, current: CameraSettings) -> CameraSettings:
    """`current` changed by JSON-like `data` (exposure_us, analogue_gain, autofocus,
    lens_position): a new CameraSettings, or InvalidRequest."""
    if not isinstance(data, dict) or not data:
        raise InvalidRequest("send a JSON object with exposure_us, analogue_gain, autofocus and/or lens_position")
    s = copy.deepcopy(current)
    for key, value in data.items():
        if key == "autofocus":
            if not isinstance(value, bool):
                raise InvalidRequest("autofocus must be true or false")
            s.autofocus = value
            if value:
                s.lens_position = None
        elif key in CAMERA_LIMITS:
            kind, lo, hi = CAMERA_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise InvalidRequest(f"{key} must be a number from {lo} to {hi}, not {value!r}")
            setattr(s, key, kind(value))
            if key == "lens_position":
                s.autofocus = False
        else:
            raise InvalidRequest(f"unknown camera setting {key!r}")
    return s


def default_name(scans_dir) -> str:
    """scan-<date>-<time>, with -2, -3... if a scan started within the same second."""
    base = time.strftime("scan-%Y%m%d-%H%M%S")
    name, n = base, 1
    while (scans_dir / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name
