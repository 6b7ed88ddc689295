"""Rendered turntable scans of a known textured mesh (tests, bench, chamfer).

A bumpy, SIFT-friendly object on a textured turntable plate, photographed
from rings of cameras like a rig does. Produces the zip the rig would upload
(optionally with a manifest in the schema manifest.py reads) and the true
surface for accuracy measurements. Units: millimetres, turntable frame.
"""
import io
import json
import zipfile

import cv2
import numpy as np
import open3d as o3d
from scipy import ndimage

from openscan_protocol.angles import camera_centre

from . import raster


def object_mesh(radius=40.0, subdivisions=5):
    """A lumpy blob standing on z = 0 (the true surface)."""
    mesh = o3d.geometry.TriangleMesh.create_icosahedron(1.0).subdivide_loop(subdivisions)
    v = np.asarray(mesh.vertices)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    theta, phi = np.arccos(v[:, 2]), np.arctan2(v[:, 1], v[:, 0])
    r = radius * (1 + 0.18 * np.sin(3 * phi) * np.sin(theta) ** 2 + 0.12 * np.cos(2 * theta))
    pts = v * r[:, None] * np.array([1.0, 0.8, 1.1])
    pts[:, 2] -= pts[:, 2].min()
    mesh.vertices = o3d.utility.Vector3dVector(pts)
    return np.asarray(mesh.vertices).copy(), np.asarray(mesh.triangles).copy()


def plate_mesh(radius=110.0, segments=96):
    """The turntable plate: a disc slightly below the object."""
    angles = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    verts = np.vstack([[0, 0, -0.5], np.column_stack([radius * np.cos(angles), radius * np.sin(angles), np.full(segments, -0.5)])])
    faces = np.array([[0, 1 + i, 1 + (i + 1) % segments] for i in range(segments)])
    return verts, faces


class Noise:
    """Smooth random colour field in 3D: blotches at two scales, like a painted object."""

    def __init__(self, seed=0, cells=(12.0, 3.0), extent=120.0):
        rng = np.random.default_rng(seed)
        self.layers = [(rng.random((int(extent * 2 / c) + 2,) * 3 + (3,)), c) for c in cells]
        self.extent = extent

    def __call__(self, pts):
        colour = np.zeros((len(pts), 3))
        for grid, cell in self.layers:
            coords = ((pts + self.extent) / cell).T
            for ch in range(3):
                colour[:, ch] += ndimage.map_coordinates(grid[..., ch], coords, order=1, mode="nearest")
        return np.clip(255 * colour / len(self.layers), 0, 255)


def ring_cameras(n_per_ring=16, elevations=(20.0, 45.0), distance=260.0):
    """(name, rotor_deg, turntable_deg, cam_from_world R, t) looking at the object."""
    cams = []
    target = np.array([0.0, 0.0, 35.0])
    for ring, elev in enumerate(elevations):
        for k in range(n_per_ring):
            table = 360.0 * k / n_per_ring + ring * 180.0 / n_per_ring
            centre = np.array(camera_centre(elev, table, distance))
            fwd = target - centre
            fwd /= np.linalg.norm(fwd)
            right = np.cross(fwd, [0.0, 0.0, 1.0])
            right /= np.linalg.norm(right)
            down = np.cross(fwd, right)
            rot = np.stack([right, down, fwd])
            cams.append((f"scan_{ring}_{k:02d}.png", elev, table, rot, -rot @ centre))
    return cams


def render(cams, width=640, height=480, focal=700.0, seed=0, supersample=2):
    """RGB images (uint8) of object + plate; black background like a scan box."""
    obj_v, obj_f = object_mesh()
    plate_v, plate_f = plate_mesh()
    verts = np.vstack([obj_v, plate_v])
    faces = np.vstack([obj_f, plate_f + len(obj_v)])
    scene = raster.scene_of(verts, faces)
    noise = Noise(seed)
    tri_normals = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    tri_normals /= np.linalg.norm(tri_normals, axis=1, keepdims=True)
    w, h, f = width * supersample, height * supersample, focal * supersample
    ys, xs = np.mgrid[0:h, 0:w]
    dirs_cam = np.column_stack([(xs.ravel() + 0.5 - w / 2) / f, (ys.ravel() + 0.5 - h / 2) / f, np.ones(w * h)])
    images = []
    for _, _, _, rot, t in cams:
        centre = -rot.T @ t
        dirs = dirs_cam @ rot
        t_hit, ids, _ = raster.cast(scene, np.tile(centre, (len(dirs), 1)), dirs)
        hit = ids >= 0
        pts = centre + dirs[hit] * t_hit[hit, None]
        d = dirs[hit] / np.linalg.norm(dirs[hit], axis=1, keepdims=True)
        shade = 0.35 + 0.65 * np.abs((tri_normals[ids[hit]] * d).sum(1))
        img = np.zeros((w * h, 3))
        img[hit] = noise(pts) * shade[:, None]
        img = cv2.resize(img.reshape(h, w, 3).astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images, {"width": width, "height": height, "fx": focal, "fy": focal, "cx": width / 2, "cy": height / 2}


def manifest_dict(cams, intrinsics, calibrated=True):
    """A manifest in the rig's schema (docs/manifest.md, openscan-manifest v1)."""
    w, h = intrinsics["width"], intrinsics["height"]
    # the renderer's principal point is at w/2 in pixel-centre-at-0.5 terms; OpenCV K is 0.5 less
    k = [[intrinsics["fx"], 0, w / 2 - 0.5], [0, intrinsics["fy"], h / 2 - 0.5], [0, 0, 1]]
    return {
        "schema": "openscan-manifest", "schema_version": 1,
        "geometry": {"frame": "turntable", "units": "mm", "angle_convention": "openscan-v1",
                     "camera_distance_mm": 260.0, "turntable_surface_z_mm": -0.5,
                     "turntable_radius_mm": 110.0},
        "camera": {"model": "synthetic", "resolution": [w, h], "nominal_K": k},
        "intrinsics": {"K": k, "dist": [0, 0, 0, 0, 0], "image_size": [w, h]} if calibrated else None,
        "photos": [{"file": n, "index": i, "stack": 0, "rotor_deg": r, "turntable_deg": t}
                   for i, (n, r, t, _, _) in enumerate(cams)],
    }


def scan_zip(n_per_ring=16, elevations=(20.0, 45.0), width=640, height=480, manifest="full", seed=0):
    """The zip a rig would upload. manifest: 'full' (calibrated intrinsics), 'nominal' (angles,
    geometry, nominal K only) or None."""
    cams = ring_cameras(n_per_ring, elevations)
    images, intrinsics = render(cams, width, height, focal=700.0 * width / 640, seed=seed)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for (name, *_), img in zip(cams, images):
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            archive.writestr(name, png.tobytes())
        if manifest:
            data = manifest_dict(cams, intrinsics, calibrated=manifest == "full")
            archive.writestr("manifest.json", json.dumps(data))
    buf.seek(0)
    return buf, cams


def observed_surface_samples(cams, count=100000, min_views=2, seed=0, width=640, height=480, focal=700.0):
    """Points on the true object surface that at least `min_views` of the cameras see."""
    from .evaluate import observed_samples

    obj_v, obj_f = object_mesh()
    plate_v, plate_f = plate_mesh()
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    return observed_samples(obj_v, obj_f, np.vstack([obj_v, plate_v]), np.vstack([obj_f, plate_f + len(obj_v)]),
                            [(rot, t, k, width, height) for _, _, _, rot, t in cams], count, min_views, seed)
