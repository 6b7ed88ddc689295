"""The rig's scan manifest: per-photo rotor/turntable angles, rig geometry, intrinsics.

The schema is owned by the rig side (docs/manifest.md, schema
`openscan-manifest` v1); this reader takes what reconstruction needs and
ignores the rest, so an older or newer rig never breaks a reconstruction — the
pipeline then simply works as without a manifest.

The JSON is parsed once, in openscan_protocol.manifest; the angle convention
`openscan-v1` lives in openscan_protocol.angles. This module turns both into
what pycolmap needs (COLMAP camera models, numpy vectors).
"""
import dataclasses

import numpy as np

from openscan_protocol.angles import camera_centre, view_direction
from openscan_protocol import manifest as protocol_manifest


@dataclasses.dataclass
class Intrinsics:
    model: str          # COLMAP camera model name (PINHOLE, OPENCV, ...)
    width: int
    height: int
    params: list        # COLMAP order for `model`

    def params_string(self):
        return ",".join(repr(float(p)) for p in self.params)


@dataclasses.dataclass
class RigPrior:
    """What the rig's manifest tells reconstruction before any photo is matched (the rig side's
    scan/manifest.py `Manifest` writes the file; this is the backend's reading of it)."""
    angles: dict                       # image name -> (rotor_deg, turntable_deg)
    camera_distance_mm: float = None   # rotation centre -> camera centre
    intrinsics: Intrinsics = None      # calibrated: kept fixed in SfM
    nominal: Intrinsics = None         # from lens/sensor data: a starting guess only
    plate_z_mm: float = None           # turntable top surface, turntable frame

    def camera_centre_mm(self, name):
        """Camera centre in the turntable frame, or None when geometry is unknown."""
        if self.camera_distance_mm is None or name not in self.angles:
            return None
        return np.array(camera_centre(*self.angles[name], self.camera_distance_mm))

    def view_direction(self, name):
        """Unit vector from the object to the camera (distance-free)."""
        return np.array(view_direction(*self.angles[name]))

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


def _intrinsics(cal, size):
    """Calibrated intrinsics (`openscan calibrate`), or None."""
    if cal is None:
        return None
    size = size or (tuple(cal["image_size"]) if cal.get("image_size") else None)
    if size is None:
        return None
    return _from_k(cal["K"], cal.get("dist"), size, cal.get("image_size"))


def parse(raw):
    """RigPrior from the rig's JSON text/bytes/dict; None when it has nothing usable.
    Raises ValueError when it is not a JSON object."""
    facts = protocol_manifest.facts(raw)
    if facts is None:
        return None
    manifest = RigPrior(
        angles=facts.angles,
        camera_distance_mm=facts.camera_distance_mm,
        intrinsics=_intrinsics(facts.calibration, facts.resolution),
        nominal=_from_k(facts.nominal_k, None, facts.resolution)
        if facts.nominal_k is not None and facts.resolution else None,
        plate_z_mm=facts.plate_z_mm,
    )
    if not manifest.angles and manifest.intrinsics is None:
        return None
    return manifest
