"""SimulatedCamera: renders what a camera fixed in the lab sees of the turning object.

The object's pose comes from the simulated motors' physical angles (what the step
pulses actually did), the exposure from the camera settings and the light from the ring
light's pins. Each photo's true pose and the true mesh are written to `ground_truth/`
beside the photos (format: docs/manifest.md, "Ground truth of simulated scans").
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from openscan_protocol.atomic import commit, write_atomically

from ..camera import Camera, CameraSettings, Capture
from .renderer import Renderer

ROTOR_AXIS_LAB = np.array([0.0, 1.0, 0.0])      # horizontal, across the optical axis
TURNTABLE_AXIS_OBJECT = np.array([0.0, 0.0, 1.0])
PREVIEW_SCALE = 4  # preview frames are a quarter of the photo's width and height


def look_at(centre: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Rows = OpenCV camera axes (x right, y down, z forward) in the lab frame."""
    z = (target - centre) / np.linalg.norm(target - centre)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


class SimulatedCamera(Camera):
    def __init__(self, scene, K, size, *, rotor, turntable, camera_distance_mm: float,
                 light_level=lambda: 1.0, dist=None, model: str = "simulated", seed: int = 0,
                 samples: int = 1):
        # scene may be a zero-argument builder: building and indexing a textured mesh takes
        # seconds, which `openscan move --simulate` should not pay for
        self._scene, self.K, self._size = scene, np.asarray(K, float), tuple(size)
        self.dist = None if dist is None else np.asarray(dist, float)
        self.rotor, self.turntable = rotor, turntable          # SimulatedMotor-like: .angle
        self.distance = float(camera_distance_mm)
        self.light_level = light_level
        self.model = model
        self.settings = CameraSettings()
        self._lens = None
        self._rng = np.random.default_rng(seed)
        self._samples, self._renderer_obj, self._preview_obj = samples, None, None
        self.lab_centre = np.array([self.distance, 0.0, 0.0])   # camera fixed in the lab
        self.lab_to_cam = look_at(self.lab_centre, np.zeros(3), np.array([0.0, 0.0, 1.0]))

    @property
    def scene(self):
        if callable(self._scene):
            self._scene = self._scene()
        return self._scene

    @property
    def _renderer(self) -> Renderer:
        if self._renderer_obj is None:
            self._renderer_obj = Renderer(self.scene, self.K, self._size, self.dist,
                                          reference_distance_mm=self.distance, samples=self._samples)
        return self._renderer_obj

    @property
    def _preview_renderer(self) -> Renderer:
        """A quarter-size renderer of its own: the live preview must not pay for full frames."""
        if self._preview_obj is None:
            K = self.K.copy()
            K[:2] /= PREVIEW_SCALE
            size = (self._size[0] // PREVIEW_SCALE, self._size[1] // PREVIEW_SCALE)
            self._preview_obj = Renderer(self.scene, K, size, self.dist,
                                         reference_distance_mm=self.distance)
        return self._preview_obj

    @property
    def resolution(self):
        return self._size

    @property
    def has_autofocus(self):
        return True

    def apply(self, settings: CameraSettings) -> None:
        self.settings = settings
        if settings.lens_position is not None:
            self._lens = settings.lens_position

    def autofocus(self):
        """Focus on the rotation centre: dioptres = 1 / distance in metres."""
        self._lens = 1000.0 / self.distance
        return self._lens

    def set_lens_position(self, dioptres):
        self._lens = float(dioptres)

    @property
    def lens_position(self):
        return self._lens

    def true_pose(self):
        """World(turntable)-to-camera R, t from the motors' physical angles."""
        tilt = Rotation.from_rotvec(np.radians(self.rotor.angle) * ROTOR_AXIS_LAB)
        spin = Rotation.from_rotvec(np.radians(self.turntable.angle) * TURNTABLE_AXIS_OBJECT)
        object_to_lab = (tilt * spin).as_matrix()
        R = self.lab_to_cam @ object_to_lab
        t = -self.lab_to_cam @ self.lab_centre
        return R, t

    def _frame(self, renderer=None):
        R, t = self.true_pose()
        s = self.settings
        exposure = s.exposure_us * s.analogue_gain / 50000.0
        renderer = renderer or self._renderer
        return renderer.render(R, t, light=self.light_level(), exposure=exposure, rng=self._rng), R, t

    def capture(self, path: str) -> Capture:
        import cv2
        img, R, t = self._frame()
        ok, jpg = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(self.settings.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        write_atomically(path, jpg.tobytes())
        self._record_ground_truth(Path(path), R, t)
        s = self.settings
        return Capture(str(path), {
            "ExposureTime": int(s.exposure_us), "AnalogueGain": float(s.analogue_gain),
            "ColourGains": list(s.colour_gains) if s.colour_gains else None,
            "LensPosition": self._lens, "SensorTimestamp": time.monotonic_ns(),
        })

    def preview(self):
        return self._frame(self._preview_renderer)[0]

    # -- ground truth ------------------------------------------------------------------
    def _record_ground_truth(self, photo: Path, R, t) -> None:
        gt = photo.parent / "ground_truth"
        gt.mkdir(exist_ok=True)
        if self.scene.ground_truth and not (gt / "mesh.ply").exists():
            write_mesh(gt / "mesh.ply", self.scene.surface(self.scene.ground_truth))
            write_mesh(gt / "scene.ply", *self.scene.surfaces)
        cams = gt / "cameras.json"
        data = json.loads(cams.read_text()) if cams.exists() else {
            "convention": "COLMAP/OpenCV world-to-camera: X_cam = R @ X_world + t; world = turntable frame, mm",
            "width": self._size[0], "height": self._size[1], "K": self.K.tolist(),
            "dist": None if self.dist is None else self.dist.tolist(), "photos": {}}
        data["photos"][photo.name] = {
            "R": R.tolist(), "t": t.tolist(), "centre": (-R.T @ t).tolist(),
            "rotor_deg": self.rotor.angle, "turntable_deg": self.turntable.angle}
        write_atomically(str(cams), json.dumps(data, indent=1).encode())


def write_mesh(path: Path, *surfaces) -> None:
    """PLY (binary) of the given surfaces with per-vertex colour at their vertices."""
    import open3d as o3d
    mesh = o3d.geometry.TriangleMesh()
    for s in surfaces:
        part = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(s.vertices),
                                         o3d.utility.Vector3iVector(s.triangles))
        if s.vertex_colours is not None:
            part.vertex_colors = o3d.utility.Vector3dVector(np.clip(s.vertex_colours, 0, 1))
        mesh += part
    tmp = str(path) + ".part.ply"
    o3d.io.write_triangle_mesh(tmp, mesh, write_ascii=False)
    commit(tmp, path)
