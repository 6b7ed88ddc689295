"""The bench's silhouette check: the result rendered into each photo against the object's mask."""
from types import SimpleNamespace

import numpy as np
import pycolmap
import trimesh

from cloud_backend.reconstruct import evaluate


def _looking_up_from_below(width=96, height=72, focal=80.0):
    """One camera 300 mm out and 60 mm below the origin, looking at it (a rig's low view)."""
    centre = np.array([300.0, 0.0, -60.0])
    forward = -centre / np.linalg.norm(centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])             # rows: camera axes in the world
    t = -rot @ centre
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    camera = pycolmap.Camera.create_from_model_id(1, pycolmap.CameraModelId.PINHOLE, focal, width, height)
    image = SimpleNamespace(name="low.png", camera=camera, projection_center=lambda: centre,
                            cam_from_world=lambda: pycolmap.Rigid3d(pycolmap.Rotation3d(rot), t))
    rec = SimpleNamespace(reg_image_ids=lambda: [1], image=lambda _: image)
    return rec, (rot, t, k, width, height)


def test_the_plate_hiding_the_object_from_below_is_not_counted_as_extra_surface():
    obj = trimesh.creation.box((40, 40, 60))                              # centred on the origin
    plate = trimesh.creation.cylinder(radius=150, height=1, transform=trimesh.transformations.translation_matrix([0, 0, -10]))
    scene = trimesh.util.concatenate([obj, plate])
    rec, camera = _looking_up_from_below()
    mask = evaluate.true_object_masks(obj.vertices, obj.faces, scene.vertices, scene.faces, {"low.png": camera})
    assert 0 < mask["low.png"].sum() < 0.8 * evaluate.true_object_masks(   # the plate hides part of it
        obj.vertices, obj.faces, obj.vertices, obj.faces, {"low.png": camera})["low.png"].sum()

    unhidden = evaluate.silhouette_iou(rec, obj.vertices, obj.faces, mask, long_side=96)["low.png"]
    hidden = evaluate.silhouette_iou(rec, obj.vertices, obj.faces, mask, long_side=96,
                                     occluders=(plate.vertices, plate.faces))["low.png"]
    assert hidden > 0.97 and unhidden < 0.8             # the true object scores as true only behind the plate


def test_the_base_resting_on_the_plate_is_not_counted_as_observed_from_below():
    obj = trimesh.creation.box((40, 40, 60))                              # its base at z = -30
    plate = trimesh.creation.cylinder(radius=150, height=0.002,           # a disc 0.01 mm below it
                                      transform=trimesh.transformations.translation_matrix([0, 0, -30.011]))
    scene = trimesh.util.concatenate([obj, plate])                        # the object's faces first
    _, camera = _looking_up_from_below()

    def base_samples(scene_v, scene_f):
        seen = evaluate.observed_samples(obj.vertices, obj.faces, scene_v, scene_f, [camera], count=20000, min_views=1)
        return int((seen[:, 2] < -29.99).sum())

    assert base_samples(obj.vertices, obj.faces) > 1000                   # no plate: the camera sees the base
    assert base_samples(scene.vertices, scene.faces) == 0                 # behind the plate: not observed


def _rectangle(x0, x1, z):
    verts = np.array([[x0, 0, z], [x1, 0, z], [x1, 10, z], [x0, 10, z]], float)
    return verts, np.array([[0, 1, 2], [0, 2, 3]])


def test_the_chamfer_is_traced_to_the_surface_filled_in_where_the_dense_points_have_a_gap():
    truth = _rectangle(0, 10, 0.0)
    # the result: right where the dense points are (left half), 0.5 off where they are not
    near, far = _rectangle(0, 5, 0.0), _rectangle(5, 10, 0.5)
    result = (np.vstack([near[0], far[0]]), np.vstack([near[1], far[1] + 4]))
    xs, ys = np.meshgrid(np.arange(0, 5, 0.1), np.arange(0, 10, 0.1))
    fused = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)])
    truth_points = evaluate.surface_samples(*truth, 20000)

    result_points, completeness, accuracy = evaluate.surface_distances(truth_points, truth, result, 20000)
    sources = evaluate.error_sources(result_points, accuracy, completeness, fused, missed_mm=0.3)

    assert abs(sources["fused_point_spacing_mm"] - 0.1) < 1e-6
    assert abs(sources["surface_far_from_fused_points_fraction"] - 0.5) < 0.03
    assert sources["accuracy_mm_near_fused_points"] < 0.01
    assert abs(sources["accuracy_mm_from_far_surface"] - accuracy.mean()) < 0.01     # all of it
    assert abs(sources["true_surface_missed_fraction"] - 0.47) < 0.02   # x > 5.3: farther than 0.3 from both
    assert abs(sources["completeness_mm_from_missed_surface"] - completeness.mean()) < 0.01
