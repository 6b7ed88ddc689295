"""What stands on the simulated turntable: surfaces in the turntable frame (mm).

Each surface is a triangle mesh plus an albedo function; the renderer ray-casts the
meshes and asks the hit surface for its colour. Scenes: a textured object on a textured
turntable (`object_scene`) and a printed chessboard lying on it (`chessboard_scene`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .textures import rich_colours, value_noise


@dataclass
class Surface:
    name: str
    vertices: np.ndarray            # V x 3 float64, mm, turntable frame
    triangles: np.ndarray           # T x 3 int32
    albedo: Callable                # (points N x 3, tri_ids N, bary N x 2) -> N x 3 in 0..1
    vertex_normals: np.ndarray | None = None
    vertex_colours: np.ndarray | None = None   # for writing the ground-truth mesh


@dataclass
class Scene:
    surfaces: list = field(default_factory=list)
    ground_truth: str | None = None   # name of the surface that is "the object"

    def surface(self, name: str) -> Surface:
        return next(s for s in self.surfaces if s.name == name)


def _vertex_colour_albedo(colours: np.ndarray, triangles: np.ndarray):
    def albedo(points, tri_ids, bary):
        tri = triangles[tri_ids]
        w0 = 1.0 - bary[:, 0] - bary[:, 1]
        return (colours[tri[:, 0]] * w0[:, None] + colours[tri[:, 1]] * bary[:, :1]
                + colours[tri[:, 2]] * bary[:, 1:2])
    return albedo


def _vertex_normals(vertices, triangles):
    import open3d as o3d
    m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(vertices),
                                  o3d.utility.Vector3iVector(triangles))
    m.compute_vertex_normals()
    return np.asarray(m.vertex_normals)


def stone_mesh(height: float = 80.0, base_z: float = -30.0, seed: int = 7, subdivisions: int = 7):
    """A lumpy, egg-like stone (about 58 x 50 x `height` mm) standing on a flat base at base_z."""
    import open3d as o3d
    ico = o3d.geometry.TriangleMesh.create_icosahedron(radius=1.0).subdivide_midpoint(subdivisions)
    v = np.asarray(ico.vertices)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    bumps = 0.09 * value_noise(v * 20.0, 11.0, rng) + 0.03 * value_noise(v * 20.0, 5.0, rng)
    v = v * (1.0 + bumps)[:, None] * np.array([29.0, 25.0, height / 2.0])
    v[:, 2] = np.maximum(v[:, 2], -height * 0.42)     # cut a flat foot so it stands
    v[:, 2] += base_z - v[:, 2].min()
    return v, np.asarray(ico.triangles, dtype=np.int32)


def disk_mesh(radius: float, z: float, spacing: float = 0.5):
    """A flat disk (grid triangulation clipped to the circle) at height z."""
    n = int(np.ceil(2 * radius / spacing)) + 1
    xs = np.linspace(-radius, radius, n)
    gx, gy = np.meshgrid(xs, xs)
    verts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    tris = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    inside = np.linalg.norm(verts[:, :2], axis=1) <= radius
    tris = tris[inside[tris].all(axis=1)]
    used = np.unique(tris)
    remap = -np.ones(len(verts), dtype=np.int64)
    remap[used] = np.arange(len(used))
    return verts[used], remap[tris].astype(np.int32)


def turntable_surface(radius: float, z: float, seed: int = 11) -> Surface:
    v, t = disk_mesh(radius, z)
    colours = 0.35 * rich_colours(v, seed, wavelengths=(10.0, 4.0, 1.5, 0.7))  # dark, but textured
    return Surface("turntable", v, t, _vertex_colour_albedo(colours, t),
                   np.tile([0.0, 0.0, 1.0], (len(v), 1)), colours)


def object_scene(geometry: dict, seed: int = 7, subdivisions: int = 7) -> Scene:
    """The textured stone standing on the turntable of a rig with this geometry."""
    z = geometry["turntable_surface_z_mm"]
    v, t = stone_mesh(base_z=z + 0.01, seed=seed, subdivisions=subdivisions)
    colours = rich_colours(v, seed)
    stone = Surface("object", v, t, _vertex_colour_albedo(colours, t), _vertex_normals(v, t), colours)
    return Scene([stone, turntable_surface(geometry.get("turntable_radius_mm", 45.0), z)],
                 ground_truth="object")


def chessboard_scene(geometry: dict, board=None, margin_mm: float = 6.0) -> Scene:
    """A printed chessboard (scan.calibrate.Board) lying centred on the turntable."""
    from ...scan.calibrate import Board
    board = board or Board()
    z = geometry["turntable_surface_z_mm"] + 0.2
    w, h = board.cols * board.square_mm, board.rows * board.square_mm
    m = margin_mm
    x0, y0 = -w / 2, -h / 2
    verts = np.array([[x0 - m, y0 - m, z], [x0 + w + m, y0 - m, z],
                      [x0 + w + m, y0 + h + m, z], [x0 - m, y0 + h + m, z]])
    tris = np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32)

    def albedo(points, tri_ids, bary):
        i = np.floor((points[:, 0] - x0) / board.square_mm)
        j = np.floor((points[:, 1] - y0) / board.square_mm)
        inside = (i >= 0) & (i < board.cols) & (j >= 0) & (j < board.rows)
        black = inside & ((i + j) % 2 == 0)
        return np.where(black[:, None], 0.06, 0.92) * np.ones((1, 3))

    plate = Surface("chessboard", verts, tris, albedo, np.tile([0.0, 0.0, 1.0], (4, 1)))
    radius = geometry.get("turntable_radius_mm", 45.0)
    return Scene([plate, turntable_surface(radius, z - 0.2)], ground_truth=None)
