"""The texture's side follows the photos' pixel density, estimated from a sample of the faces."""
import numpy as np
import pycolmap
from scipy.spatial.transform import Rotation

from cloud_backend.reconstruct.texture import texture_size


def ring_of_views(count=8, distance=4.0, focal=900.0):
    """Cameras on a ring around the origin, each looking at it."""
    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(pycolmap.Camera(model="PINHOLE", width=1200, height=900,
                                                    params=[focal, focal, 600, 450], camera_id=1))
    for k in range(count):
        angle = 2 * np.pi * k / count
        centre = distance * np.array([np.cos(angle), np.sin(angle), 0.0])
        forward = -centre / distance
        right = np.cross(forward, [0, 0, 1.0])
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])   # rows: the camera's axes in the world
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(Rotation.from_matrix(rotation).as_quat()), -rotation @ centre)
        rec.add_image_with_trivial_frame(pycolmap.Image(name=f"{k}.jpg", camera_id=1, image_id=k + 1), pose)
    return rec


def sphere(subdivisions=5):
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh.create_sphere(1.0, resolution=10 * 2 ** (subdivisions - 2))
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


def test_a_sample_of_the_faces_picks_the_size_every_face_would():
    verts, faces = sphere()
    rec = ring_of_views()
    every_face = texture_size(rec, verts, faces, 16384, "grid", max_samples=len(faces))
    sampled = texture_size(rec, verts, faces, 16384, "grid", max_samples=len(faces) // 10)
    assert every_face > 512   # above the floor, so the estimate decides it
    assert abs(sampled - every_face) <= 256   # the rounding step
    closer = texture_size(ring_of_views(focal=1800.0), verts, faces, 16384, "grid", max_samples=len(faces) // 10)
    assert closer > 1.3 * sampled   # twice the pixels across each face (the grid's padding stays)
