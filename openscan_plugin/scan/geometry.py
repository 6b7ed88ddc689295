"""Angles -> camera pose in the turntable frame: the contract with the backend.

Turntable frame (right-handed, millimetres, moves with the object):
  origin  the rotation centre: the turntable axis where it crosses the rotor's tilt axis;
  +z      up the turntable axis; the turntable surface is the plane z = turntable_surface_z_mm;
  +x      the direction that faces the camera when both angles are 0.

Angle conventions (degrees):
  rotor      camera elevation above the turntable plane as seen from the origin
             (0 = camera level with the turntable, +60 = looking down from 60 deg above);
  turntable  rotation of the object about +z, counter-clockwise seen from above
             (right-handed). Turning the object by +t moves the camera to azimuth -t.

Camera centre in the turntable frame, with D = geometry.camera_distance_mm:
  C = D * (cos(rotor) cos(turntable), -cos(rotor) sin(turntable), sin(rotor))
The camera looks at the origin, its image x axis stays horizontal in the lab (no roll).
Pose in COLMAP/OpenCV convention (x right, y down, z forward; X_cam = R X_world + t):
  R = R_lab_to_cam @ Ry(rotor) @ Rz(turntable),   t = (0, 0, D)
"""
from __future__ import annotations

import numpy as np

from openscan_protocol import angles

# lab frame: camera on +x looking at the origin, z up  ->  OpenCV camera axes
LAB_TO_CAM = np.array([[0.0, 1.0, 0.0],
                       [0.0, 0.0, -1.0],
                       [-1.0, 0.0, 0.0]])


def _rz(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _ry(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def camera_centre(rotor_deg: float, turntable_deg: float, distance_mm: float) -> np.ndarray:
    """Camera centre (mm) in the turntable frame (the formula: openscan_protocol.angles)."""
    return np.array(angles.camera_centre(rotor_deg, turntable_deg, distance_mm))


def camera_pose(rotor_deg: float, turntable_deg: float, distance_mm: float):
    """World(turntable)-to-camera (R, t) in the COLMAP/OpenCV convention."""
    R = LAB_TO_CAM @ _ry(rotor_deg) @ _rz(turntable_deg)
    return R, np.array([0.0, 0.0, float(distance_mm)])


def intrinsics_from_sensor(width: int, height: int, focal_length_mm: float, pixel_size_um: float,
                           sensor_width_px: int) -> np.ndarray:
    """Nominal pinhole K for an image of width x height scaled from the full sensor."""
    f = focal_length_mm / (pixel_size_um * 1e-3) * width / sensor_width_px
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])
