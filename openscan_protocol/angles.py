"""The angle convention `openscan-v1` (docs/manifest.md): angles -> camera centre.

Turntable frame, mm: origin at the rotation centre, +z up the turntable axis. `rotor_deg` is
the camera's elevation; turning the table by +t puts the camera at azimuth -t in the object's
frame: C = D (cos r cos t, -cos r sin t, sin r).
"""
import math


def view_direction(rotor_deg, turntable_deg):
    """Unit vector from the rotation centre to the camera."""
    r, t = math.radians(rotor_deg), math.radians(turntable_deg)
    return (math.cos(r) * math.cos(t), -math.cos(r) * math.sin(t), math.sin(r))


def camera_centre(rotor_deg, turntable_deg, distance_mm):
    """Camera centre (mm) in the turntable frame."""
    return tuple(distance_mm * c for c in view_direction(rotor_deg, turntable_deg))
