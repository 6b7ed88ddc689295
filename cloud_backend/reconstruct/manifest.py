"""The rig's scan manifest: per-photo rotor/turntable angles, rig geometry, intrinsics.

The schema is owned by the rig side (docs/manifest.md on branch `rig`); this
reader is deliberately tolerant and turns whatever it understands into a
`Manifest`. Anything it cannot use is ignored so an older or newer rig never
breaks a reconstruction — the pipeline then simply works as without a manifest.

Geometry convention (turntable frame, millimetres): origin at the rotation
centre on the plate, +Z up the turntable axis. The camera looks at the origin
from `camera_distance_mm`; tilting the rotor by `rotor_deg` raises it to that
elevation and turning the table by `turntable_deg` moves it (relative to the
object) by minus that azimuth.
"""
import dataclasses
import json
import math

import numpy as np


@dataclasses.dataclass
class Intrinsics:
    model: str          # COLMAP camera model name (PINHOLE, OPENCV, ...)
    width: int
    height: int
    params: list        # COLMAP order for `model`

    def params_string(self):
        return ",".join(repr(float(p)) for p in self.params)


@dataclasses.dataclass
class Manifest:
    angles: dict                       # image name -> (rotor_deg, turntable_deg)
    camera_distance_mm: float = None   # rotation centre -> camera centre
    intrinsics: Intrinsics = None

    def camera_centre_mm(self, name):
        """Camera centre in the turntable frame, or None when geometry is unknown."""
        if self.camera_distance_mm is None or name not in self.angles:
            return None
        rotor, table = (math.radians(a) for a in self.angles[name])
        d = self.camera_distance_mm
        return np.array([
            d * math.cos(rotor) * math.cos(-table),
            d * math.cos(rotor) * math.sin(-table),
            d * math.sin(rotor),
        ])

    def view_direction(self, name):
        """Unit vector from the object to the camera (distance-free)."""
        rotor, table = (math.radians(a) for a in self.angles[name])
        return np.array([
            math.cos(rotor) * math.cos(-table),
            math.cos(rotor) * math.sin(-table),
            math.sin(rotor),
        ])

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        intr = data.get("intrinsics")
        return cls(
            angles={k: tuple(v) for k, v in data.get("angles", {}).items()},
            camera_distance_mm=data.get("camera_distance_mm"),
            intrinsics=Intrinsics(**intr) if intr else None,
        )


def _first(mapping, *keys):
    for key in keys:
        if isinstance(mapping, dict) and mapping.get(key) is not None:
            return mapping[key]
    return None


def _intrinsics(data):
    cam = _first(data, "intrinsics", "camera", "calibration")
    if not isinstance(cam, dict):
        return None
    cam = _first(cam, "intrinsics", "calibration") or cam
    width, height = _first(cam, "width", "image_width"), _first(cam, "height", "image_height")
    if width is None or height is None:
        return None
    if "model" in cam and "params" in cam:
        return Intrinsics(str(cam["model"]).upper(), int(width), int(height), [float(p) for p in cam["params"]])
    fx, fy = _first(cam, "fx", "focal_x"), _first(cam, "fy", "focal_y")
    cx, cy = _first(cam, "cx"), _first(cam, "cy")
    matrix = _first(cam, "K", "camera_matrix")
    if matrix is not None:
        k = np.asarray(matrix, dtype=float).reshape(3, 3)
        fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    if None in (fx, fy, cx, cy):
        return None
    dist = [float(x) for x in (_first(cam, "dist", "distortion", "dist_coeffs") or [])]
    if any(dist):
        dist = (dist + [0.0] * 4)[:4]   # OPENCV model: k1 k2 p1 p2
        return Intrinsics("OPENCV", int(width), int(height), [fx, fy, cx, cy] + dist)
    return Intrinsics("PINHOLE", int(width), int(height), [float(fx), float(fy), float(cx), float(cy)])


def parse(raw):
    """Manifest from the rig's JSON text/bytes/dict; None when it has nothing usable."""
    data = json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) else raw
    if not isinstance(data, dict):
        return None
    photos = _first(data, "photos", "images", "captures", "frames") or []
    if isinstance(photos, dict):   # {"name": {...}} form
        photos = [dict(v, file=k) for k, v in photos.items()]
    angles = {}
    for photo in photos:
        if not isinstance(photo, dict):
            continue
        name = _first(photo, "file", "filename", "name", "image")
        rotor = _first(photo, "rotor_deg", "rotor_angle", "rotor", "tilt_deg", "elevation_deg")
        table = _first(photo, "turntable_deg", "turntable_angle", "turntable", "azimuth_deg")
        if name is not None and rotor is not None and table is not None:
            angles[str(name).rsplit("/", 1)[-1]] = (float(rotor), float(table))
    distance = None
    for section in (data.get("geometry"), data.get("rig_geometry"), data.get("rig"), data):
        # the rig's schema v1 keeps it in "geometry"; "rig" there holds the motors
        distance = _first(section, "camera_distance_mm", "camera_distance", "distance_mm")
        if distance is not None:
            break
    manifest = Manifest(
        angles=angles,
        camera_distance_mm=float(distance) if distance is not None else None,
        intrinsics=_intrinsics(data),
    )
    if not manifest.angles and manifest.intrinsics is None:
        return None
    return manifest
