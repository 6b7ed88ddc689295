"""Scan paths: where the camera goes (Fibonacci sphere or turntable rings), in which
order (short motor time), and how long the scan will take."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..hardware import motion
from .errors import InvalidRequest

GOLDEN_ANGLE = 180.0 * (3.0 - math.sqrt(5.0))  # degrees


@dataclass
class MotionModel:
    """Move-time model of both motors from the profile: hardware/motion.py's ramps (what the
    stepper does), not distances."""
    rotor: dict
    turntable: dict
    capture_s: float = 1.0     # per photo: exposure, readout, JPEG, write

    @classmethod
    def from_profile(cls, profile: dict, capture_s: float = 1.0) -> "MotionModel":
        return cls(profile["motors"]["rotor"], profile["motors"]["turntable"], capture_s)

    def _motor_time(self, motor: dict, delta_deg: np.ndarray) -> np.ndarray:
        steps = np.abs(delta_deg) * motor["steps_per_rev"] / 360.0
        return motion.trapezoid_seconds(steps, motor["max_speed"], motor["acceleration"])

    def move_time(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Seconds from (rotor, turntable) a to b; motors move one after the other."""
        a, b = np.asarray(a, float), np.asarray(b, float)
        d_rot = b[..., 0] - a[..., 0]
        d_tt = (b[..., 1] - a[..., 1] + 180.0) % 360.0 - 180.0   # turntable: shorter way round
        return self._motor_time(self.rotor, d_rot) + self._motor_time(self.turntable, d_tt)

    @property
    def settle_s(self) -> float:
        return max(self.rotor.get("settle_s", 0.0), self.turntable.get("settle_s", 0.0))


@dataclass
class ScanPlan:
    points: list                     # [(rotor_deg, turntable_deg), ...] in scan order
    mode: str
    move_s: float
    estimated_duration_s: float
    photos_per_point: int = 1
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def fibonacci_points(n: int, min_elev: float, max_elev: float) -> np.ndarray:
    """n (rotor, turntable) angles spread evenly over the sphere band min..max elevation.

    Golden-angle spiral with z = sin(elevation) uniform in the band (equal area per point);
    the turntable angle is minus the camera's azimuth (turning the object by +t shows
    the camera the side at azimuth -t)."""
    if n < 1:
        raise InvalidRequest("need at least one point")
    lo, hi = math.sin(math.radians(min_elev)), math.sin(math.radians(max_elev))
    i = np.arange(n)
    z = lo + (i + 0.5) / n * (hi - lo)
    rotor = np.degrees(np.arcsin(z))
    azimuth = (i * GOLDEN_ANGLE) % 360.0
    return np.stack([rotor, (-azimuth) % 360.0], axis=1)


def turntable_points(n: int, rotor_angles=(0.0,)) -> np.ndarray:
    """n equal turntable steps of 360/n on each rotor ring (n per ring)."""
    if n < 1:
        raise InvalidRequest("need at least one point per ring")
    tt = np.arange(n) * 360.0 / n
    return np.array([(r, t) for r in rotor_angles for t in tt], dtype=float)


def order_points(points: np.ndarray, model: MotionModel, start=(0.0, 0.0), max_passes: int = 50) -> np.ndarray:
    """Indices of `points` in a short visiting order from `start` (open path).

    Nearest neighbour on real move times, then 2-opt segment reversals until no move
    improves (vectorised over the second cut, so 300 points take well under a second)."""
    nodes = np.vstack([np.asarray(start, float)[None], np.asarray(points, float)])
    cost = model.move_time(nodes[:, None, :], nodes[None, :, :])
    n = len(nodes)
    # nearest neighbour
    path, free = [0], np.ones(n, bool)
    free[0] = False
    for _ in range(n - 1):
        row = np.where(free, cost[path[-1]], np.inf)
        nxt = int(np.argmin(row))
        path.append(nxt)
        free[nxt] = False
    path = np.array(path)
    # 2-opt on the open path; node 0 (the start) stays first
    for _ in range(max_passes):
        improved = False
        for i in range(1, n - 1):
            a, b = path[i - 1], path[i]
            j = np.arange(i + 1, n)
            c = path[j]
            d = np.where(j + 1 < n, path[np.minimum(j + 1, n - 1)], -1)
            tail_old = np.where(d >= 0, cost[c, np.maximum(d, 0)], 0.0)
            tail_new = np.where(d >= 0, cost[b, np.maximum(d, 0)], 0.0)
            gain = cost[a, b] + tail_old - cost[a, c] - tail_new
            k = int(np.argmax(gain))
            if gain[k] > 1e-9:
                jj = j[k]
                path[i:jj + 1] = path[i:jj + 1][::-1]
                improved = True
        if not improved:
            break
    return path[1:] - 1


def path_move_time(points: np.ndarray, model: MotionModel, start=(0.0, 0.0)) -> float:
    nodes = np.vstack([np.asarray(start, float)[None], np.asarray(points, float)])
    return float(model.move_time(nodes[:-1], nodes[1:]).sum())


def plan_scan(profile: dict, n: int, *, mode: str = "sphere", rings=None, photos_per_point: int = 1,
              start=(0.0, 0.0), capture_s: float = 1.0, min_elev=None, max_elev=None) -> ScanPlan:
    """The scan plan for `profile`: n points ("sphere") or n per ring ("turntable")."""
    rotor = profile["motors"]["rotor"]
    lo = rotor["min_angle"] if min_elev is None else max(min_elev, rotor["min_angle"])
    hi = rotor["max_angle"] if max_elev is None else min(max_elev, rotor["max_angle"])
    model = MotionModel.from_profile(profile, capture_s)
    if mode == "sphere":
        pts = fibonacci_points(n, lo, hi)
    elif mode == "turntable":
        rings = list(rings) if rings else [0.0]
        bad = [r for r in rings if not lo <= r <= hi]
        if bad:
            raise InvalidRequest(f"rotor ring(s) {bad} outside the rotor range {lo}..{hi}")
        pts = turntable_points(n, rings)
    else:
        raise InvalidRequest(f"unknown path mode {mode!r} (sphere or turntable)")
    if mode == "sphere":
        pts = pts[order_points(pts, model, start)]
    move = path_move_time(pts, model, start)
    per_point = model.settle_s + photos_per_point * capture_s
    pts = [(round(float(r), 4), round(float(t), 4)) for r, t in pts]
    return ScanPlan(pts, mode, round(move, 2), round(move + len(pts) * per_point, 1), photos_per_point,
                    {"rotor_range": [lo, hi], "rings": rings if mode == "turntable" else None})
