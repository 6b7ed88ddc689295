"""Poisson's surface: its depth, and trimming it to the points (unsupported regions go, pinholes
in the data do not)."""
import numpy as np
import open3d as o3d

from cloud_backend.reconstruct import mesh as mesh_mod


def test_a_gap_of_a_few_vertices_stays_closed_and_a_large_unsupported_cap_goes():
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=40)
    verts = np.asarray(sphere.vertices)
    cap = verts[:, 2] > 0.8                                       # a region no point supports
    pinhole = np.zeros(len(verts), bool)
    pinhole[np.argmin(np.linalg.norm(verts - [1.0, 0.0, 0.0], axis=1))] = True   # one point-less vertex
    trim = mesh_mod.without_gaps(sphere, cap | pinhole, min_vertices=10)
    assert (trim == cap).all() and cap.sum() >= 10


def test_object_masks_trim_only_what_a_photo_shows_as_background(tmp_path):
    from types import SimpleNamespace

    import cv2
    import pycolmap

    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=30)
    verts = np.asarray(sphere.vertices)
    camera = pycolmap.Camera.create_from_model_id(1, pycolmap.CameraModelId.PINHOLE, 100.0, 200, 200)
    pose = pycolmap.Rigid3d(pycolmap.Rotation3d(np.eye(3)), np.array([0.0, 0.0, 5.0]))   # looking along +z
    image = SimpleNamespace(name="a.png", camera=camera, cam_from_world=lambda: pose)
    rec = SimpleNamespace(reg_image_ids=lambda: [1], image=lambda _: image)
    mask = np.zeros((200, 200), np.uint8)
    mask[:, :100] = 255                                          # the object is the left half (x < 0)
    cv2.imwrite(str(tmp_path / "a.png.png"), mask)
    outside = mesh_mod.on_background(verts, rec, tmp_path, margin_px=0)
    assert outside[verts[:, 0] > 0.05].all() and not outside[verts[:, 0] < -0.05].any()


def test_poisson_goes_no_deeper_than_the_face_budget_needs():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300_000, 3))
    points /= np.linalg.norm(points, axis=1, keepdims=True)              # a dense unit sphere
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.normals = o3d.utility.Vector3dVector(points)
    assert mesh_mod.depth_for(pcd, 12, 1_000_000) == 10                   # the points' spacing decides
    depth = mesh_mod.depth_for(pcd, 12, 100_000)
    assert depth < 10                                                     # a quarter of the work a level
    surface, _ = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pcd, depth=depth, n_threads=2)
    assert len(surface.triangles) >= 2 * 100_000                          # still more than decimation keeps


def test_cleaning_after_decimation_keeps_every_piece_of_the_surface():
    # decimation splits slivers off the one connected surface; they are surface, not strays
    sphere = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=30)
    sliver = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=30)
    sliver.remove_vertices_by_mask(np.asarray(sliver.vertices)[:, 2] > -0.95)   # a small cap of it
    sliver.translate([0.0, 0.0, -0.01])
    area = sphere.get_surface_area() + sliver.get_surface_area()
    cleaned = mesh_mod.clean(sphere + sliver)
    assert len(sliver.triangles) > 0
    assert abs(cleaned.get_surface_area() - area) < 1e-9 * area
