"""The rig's scan manifest: per-photo rotor/turntable angles, rig geometry, intrinsics.

The schema is owned by the rig side (docs/manifest.md, schema
`openscan-manifest` v1); this reader takes what reconstruction needs and
ignores the rest, so an older or newer rig never breaks a reconstruction — the
pipeline then simply works as without a manifest.

Angle convention `openscan-v1` (turntable frame, mm): origin = rotation centre,
+z up the turntable axis; `rotor_deg` is the camera elevation, turning the
table by +t puts the camera at azimuth -t in the object's frame:
C = D (cos r cos t, -cos r sin t, sin r).
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
    intrinsics: Intrinsics = None      # calibrated: kept fixed in SfM
    nominal: Intrinsics = None         # from lens/sensor data: a starting guess only
    plate_z_mm: float = None           # turntable top surface, turntable frame

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
        intr, nominal = data.get("intrinsics"), data.get("nominal")
        return cls(
            angles={k: tuple(v) for k, v in data.get("angles", {}).items()},
            camera_distance_mm=data.get("camera_distance_mm"),
            intrinsics=Intrinsics(**intr) if intr else None,
            nominal=Intrinsics(**nominal) if nominal else None,
            plate_z_mm=data.get("plate_z_mm"),
        )


def _resolution(data):
    cam = data.get("camera") if isinstance(data.get("camera"), dict) else {}
    res = cam.get("resolution")
    return (int(res[0]), int(res[1])) if res and len(res) == 2 else None


def _from_k(matrix, dist, size, calibrated_size=None):
    """Intrinsics in COLMAP form from an OpenCV K + distortion, scaled to `size`."""
    k = np.asarray(matrix, dtype=float).reshape(3, 3).copy()
    k[:2, 2] += 0.5   # OpenCV puts pixel centres on integers, COLMAP at +0.5
    if calibrated_size and tuple(calibrated_size) != tuple(size):
        k[0] *= size[0] / calibrated_size[0]
        k[1] *= size[1] / calibrated_size[1]
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    dist = [float(x) for x in (dist or [])] + [0.0] * 5
    k1, k2, p1, p2, k3 = dist[:5]
    if k3:
        return Intrinsics("FULL_OPENCV", size[0], size[1], [fx, fy, cx, cy, k1, k2, p1, p2, k3, 0, 0, 0])
    if k1 or k2 or p1 or p2:
        return Intrinsics("OPENCV", size[0], size[1], [fx, fy, cx, cy, k1, k2, p1, p2])
    return Intrinsics("PINHOLE", size[0], size[1], [fx, fy, cx, cy])


def _intrinsics(data, size):
    """Calibrated intrinsics (`openscan calibrate`), or None."""
    cal = data.get("intrinsics")
    if not isinstance(cal, dict) or cal.get("K") is None:
        return None
    size = size or (tuple(cal["image_size"]) if cal.get("image_size") else None)
    if size is None:
        return None
    return _from_k(cal["K"], cal.get("dist"), size, cal.get("image_size"))


def _nominal(data, size):
    cam = data.get("camera") if isinstance(data.get("camera"), dict) else {}
    if cam.get("nominal_K") is None or size is None:
        return None
    return _from_k(cam["nominal_K"], None, size)


def parse(raw):
    """Manifest from the rig's JSON text/bytes/dict; None when it has nothing usable."""
    data = json.loads(raw) if isinstance(raw, (str, bytes, bytearray)) else raw
    if not isinstance(data, dict):
        return None
    if data.get("schema_version", 1) != 1:
        return None   # an incompatible future schema: better no manifest than a wrong one
    angles = {}
    for photo in data.get("photos") or []:
        if not isinstance(photo, dict):
            continue
        name, rotor, table = photo.get("file"), photo.get("rotor_deg"), photo.get("turntable_deg")
        if name is not None and rotor is not None and table is not None:
            angles[str(name).rsplit("/", 1)[-1]] = (float(rotor), float(table))
    geometry = data.get("geometry") if isinstance(data.get("geometry"), dict) else {}
    distance = geometry.get("camera_distance_mm")
    plate_z = geometry.get("turntable_surface_z_mm")
    size = _resolution(data)
    manifest = Manifest(
        angles=angles,
        camera_distance_mm=float(distance) if distance is not None else None,
        intrinsics=_intrinsics(data, size),
        nominal=_nominal(data, size),
        plate_z_mm=float(plate_z) if plate_z is not None else None,
    )
    if not manifest.angles and manifest.intrinsics is None:
        return None
    return manifest
