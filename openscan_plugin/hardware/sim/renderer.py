"""CPU ray-casting renderer (open3d RaycastingScene / Embree): one ray per pixel.

Shading is Lambertian under a ring light around the lens (so no visible shadows) plus a
little room light, with inverse-square fall-off, the exposure and gain the camera is set
to, Gaussian read noise and shot noise. Everything is vectorised numpy: a 1280x960 frame
takes a fraction of a second.
"""
from __future__ import annotations

import numpy as np

BACKGROUND = np.array([0.035, 0.035, 0.04])   # the rig's dark back panel
ROOM_LIGHT = 0.06                              # light reaching the object with the ring light off


class Renderer:
    def __init__(self, scene, K: np.ndarray, size: tuple, dist: np.ndarray | None = None,
                 reference_distance_mm: float = 150.0, nthreads: int = 0, samples: int = 1):
        import open3d as o3d
        self._o3d = o3d
        self.scene, self.K, self.size = scene, np.asarray(K, float), tuple(size)
        self.dist = None if dist is None else np.asarray(dist, float)
        self.reference_distance = reference_distance_mm
        self.samples = int(samples)   # s x s rays per pixel (anti-aliasing), averaged
        self._rc = o3d.t.geometry.RaycastingScene(nthreads=nthreads)
        for s in scene.surfaces:
            mesh = o3d.t.geometry.TriangleMesh()
            mesh.vertex.positions = o3d.core.Tensor(s.vertices.astype(np.float32))
            mesh.triangle.indices = o3d.core.Tensor(s.triangles.astype(np.int32))
            self._rc.add_triangles(mesh)
        self._rays_cam = self._pixel_rays()

    def _pixel_rays(self) -> np.ndarray:
        """Unit ray directions in camera coordinates (s*s sub-samples x H*W x 3); pixel
        centres sit at integer coordinates, as in OpenCV and COLMAP's undistorted output."""
        w, h, s = self.size[0], self.size[1], self.samples
        offsets = (np.arange(s) + 0.5) / s - 0.5
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        pix = np.concatenate([np.stack([u.ravel() + dx, v.ravel() + dy], axis=1)
                              for dy in offsets for dx in offsets])
        if self.dist is not None and np.any(self.dist):
            import cv2  # lens distortion: undistort every pixel once, reuse for every frame
            xy = cv2.undistortPoints(pix.reshape(-1, 1, 2), self.K, self.dist).reshape(-1, 2)
        else:
            xy = (pix - self.K[:2, 2]) / np.array([self.K[0, 0], self.K[1, 1]])
        d = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
        return (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)

    def render(self, R: np.ndarray, t: np.ndarray, light: float = 1.0, exposure: float = 1.0,
               rng: np.random.Generator | None = None) -> np.ndarray:
        """RGB uint8 image of the scene seen by a camera with pose X_cam = R X + t."""
        o3d = self._o3d
        rng = rng or np.random.default_rng()
        centre = -R.T @ t
        dirs = self._rays_cam @ R.astype(np.float32)          # rows: R^T d for each ray
        rays = np.concatenate([np.broadcast_to(centre.astype(np.float32), dirs.shape), dirs], axis=1)
        hit = self._rc.cast_rays(o3d.core.Tensor(rays))
        t_hit = hit["t_hit"].numpy()
        mask = np.isfinite(t_hit)
        img = np.broadcast_to(BACKGROUND, (len(t_hit), 3)).copy()
        geom = hit["geometry_ids"].numpy()[mask]
        prim = hit["primitive_ids"].numpy()[mask].astype(np.int64)
        bary = hit["primitive_uvs"].numpy()[mask].astype(np.float64)
        d = dirs[mask].astype(np.float64)
        dist = t_hit[mask].astype(np.float64)
        points = centre + d * dist[:, None]
        colour = np.empty((mask.sum(), 3))
        normal = np.empty((mask.sum(), 3))
        for gid, surface in enumerate(self.scene.surfaces):
            sel = geom == gid
            if not sel.any():
                continue
            colour[sel] = surface.albedo(points[sel], prim[sel], bary[sel])
            normal[sel] = self._interpolated_normals(surface, prim[sel], bary[sel])
        cos = np.abs(np.einsum("ij,ij->i", normal, d))
        falloff = (self.reference_distance / dist) ** 2
        img[mask] = colour * (ROOM_LIGHT + light * 0.9 * cos * falloff)[:, None]
        w, h = self.size
        img = img.reshape(self.samples ** 2, h * w, 3).mean(axis=0) * exposure
        # shot noise (~sqrt of signal) plus read noise, then 8-bit quantisation
        img += rng.standard_normal(img.shape) * (0.004 + 0.01 * np.sqrt(np.clip(img, 0, None)))
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8).reshape(h, w, 3)

    @staticmethod
    def _interpolated_normals(surface, prim, bary):
        tri = surface.triangles[prim]
        vn = surface.vertex_normals
        w0 = 1.0 - bary[:, 0] - bary[:, 1]
        n = vn[tri[:, 0]] * w0[:, None] + vn[tri[:, 1]] * bary[:, :1] + vn[tri[:, 2]] * bary[:, 1:2]
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
