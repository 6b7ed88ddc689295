"""Accuracy against ground truth, shared by the tests and bench/reconstruct.py."""
import pathlib

import numpy as np


def read_krt(path):
    """Middlebury/DTU `name k11..k33 r11..r33 t1 t2 t3` lines -> {name: (K, R, t)}."""
    cams = {}
    for line in pathlib.Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) != 22:
            continue   # the count header of templeR_par.txt
        vals = np.array(parts[1:], dtype=float)
        cams[parts[0]] = (vals[:9].reshape(3, 3), vals[9:18].reshape(3, 3), vals[18:21])
    return cams


def pose_errors(rec, gt):
    """Per-image rotation (deg) and centre errors (gt units) after a similarity alignment.

    rec: pycolmap.Reconstruction; gt: {name: (K, R, t)} with x_cam = R x_world + t.
    Registered images are matched to gt by file name (stem, so extensions may differ).
    """
    import pycolmap

    by_stem = {pathlib.Path(n).stem: v for n, v in gt.items()}
    est_c, gt_c, est_r, gt_r = [], [], [], []
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        if pathlib.Path(image.name).stem not in by_stem:
            continue
        _, r, t = by_stem[pathlib.Path(image.name).stem]
        est_c.append(image.projection_center())
        est_r.append(image.cam_from_world().rotation.matrix())
        gt_c.append(-r.T @ t)
        gt_r.append(r)
    if len(est_c) < 3:
        raise ValueError("fewer than 3 registered images have ground truth")
    sim = pycolmap.estimate_sim3d(np.array(est_c), np.array(gt_c))
    rot_w = sim.rotation.matrix()   # gt_world_from_est_world
    rot_err, centre_err = [], []
    for c, r, gc, gr in zip(est_c, est_r, gt_c, gt_r):
        r_aligned = r @ rot_w.T     # cam_from_gt_world
        cos = (np.trace(r_aligned @ gr.T) - 1) / 2
        rot_err.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
        centre_err.append(np.linalg.norm(sim.scale * rot_w @ c + sim.translation - gc))
    return np.array(rot_err), np.array(centre_err)


def chamfer(points_a, points_b):
    """Symmetric mean nearest-neighbour distance between two point sets."""
    from scipy.spatial import cKDTree

    d_ab = cKDTree(points_b).query(points_a)[0]
    d_ba = cKDTree(points_a).query(points_b)[0]
    return 0.5 * (d_ab.mean() + d_ba.mean())


def point_to_mesh(points, verts, faces):
    """Distance of each point to the nearest point on a triangle mesh.

    Unlike point-to-point distances between two samplings, this has no floor
    from the sample spacing.
    """
    from .raster import scene_of
    import open3d as o3d

    scene = scene_of(verts, faces)
    return scene.compute_distance(o3d.core.Tensor(np.asarray(points, np.float32))).numpy()


def surface_distances(truth_points, truth_mesh, result_mesh, count=100000, seed=0):
    """(result samples, each truth sample's distance to the result mesh (completeness), each
    result sample's distance to the true mesh (accuracy)). The symmetric surface chamfer is
    the mean of the two means."""
    result_points = surface_samples(*result_mesh, count, seed)
    return result_points, point_to_mesh(truth_points, *result_mesh), point_to_mesh(result_points, *truth_mesh)


def error_sources(result_points, accuracy, completeness, fused_points, near_spacings=2.0, missed_mm=1.0):
    """Where a surface chamfer comes from: the result's surface farther than `near_spacings`
    fused-point spacings from every fused point (what the mesher filled in across gaps in the
    dense points) against the rest, and the true surface the result misses by more than
    `missed_mm`. `..._mm_from_...`: that part's share of the mean, in mm (the parts add up)."""
    from scipy.spatial import cKDTree

    fused_points = np.asarray(fused_points)
    tree = cKDTree(fused_points)
    sample = fused_points[:: max(1, len(fused_points) // 20000)]
    spacing = float(np.median(tree.query(sample, k=2)[0][:, 1]))
    far = tree.query(result_points)[0] > near_spacings * spacing
    missed = completeness > missed_mm
    return {
        "fused_point_spacing_mm": spacing,
        "surface_far_from_fused_points_fraction": float(far.mean()),
        "accuracy_mm_near_fused_points": float(accuracy[~far].mean()) if (~far).any() else 0.0,
        "accuracy_mm_from_far_surface": float(accuracy[far].sum() / len(accuracy)),
        "true_surface_missed_fraction": float(missed.mean()),
        "completeness_mm_from_missed_surface": float(completeness[missed].sum() / len(completeness)),
    }


def surface_samples(verts, faces, count, seed=0):
    """Area-uniform random points on a triangle mesh (reproducible)."""
    rng = np.random.default_rng(seed)
    tri = np.asarray(verts, float)[np.asarray(faces)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    pick = rng.choice(len(tri), count, p=area / area.sum())
    u, v = rng.random((2, count))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[pick]
    return t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])


def observed_samples(obj_v, obj_f, scene_v, scene_f, cameras, count=100000, min_views=2, seed=0):
    """Samples of the true surface that at least `min_views` cameras see unoccluded.

    The underside resting on the plate is in no photo; like DTU's observability
    masks, accuracy is only measured on surface the scan could reconstruct.
    scene_v, scene_f: the whole scene with the object's faces first (as the simulated rig
    writes scene.ply). A sample counts as seen only where the camera's ray first meets an
    object face at it: a distance tolerance alone let a plate 0.01 mm under the object's base
    pass, and counted the base (5 % of the rig scan's surface) as seen from below the plate.
    cameras: (R, t, K, width, height) with x_cam = R x + t, K with pixel centres at +0.5.
    """
    from .raster import cast, scene_of

    scene = scene_of(scene_v, scene_f)
    pts = surface_samples(obj_v, obj_f, count, seed)
    views = np.zeros(len(pts), int)
    for rot, t, k, width, height in cameras:
        centre = -rot.T @ t
        dirs = pts - centre
        dist = np.linalg.norm(dirs, axis=1)
        t_hit, face, _ = cast(scene, np.broadcast_to(centre, pts.shape), dirs / dist[:, None])
        cam = pts @ rot.T + t
        u = k[0, 0] * cam[:, 0] / cam[:, 2] + k[0, 2]
        v = k[1, 1] * cam[:, 1] / cam[:, 2] + k[1, 2]
        in_view = (cam[:, 2] > 0) & (u >= 0) & (u < width) & (v >= 0) & (v < height)
        on_object = (face >= 0) & (face < len(obj_f))
        views += on_object & (np.abs(t_hit - dist) < 1e-3 * dist) & in_view
    return pts[views >= min_views]


def silhouette_iou(rec, verts, faces, masks, long_side=480, occluders=None):
    """{image name: IoU} of the mesh's silhouette rendered into each registered photo
    (its own pose and camera, at `long_side` px) against the object's mask there.

    A closed, complete surface covers the mask exactly; holes the photos saw through and
    missing parts lower the IoU, blobs of background raise the union. masks: {name: array
    at any size, non-zero = object}. occluders: (verts, faces) of what stands in front of
    the object in some views (a rig's plate seen from below): the masks show the object
    only where it is not hidden, so the mesh counts only where it is in front of them.
    """
    import cv2

    from .raster import camera_grid, cast, scene_of

    scene = scene_of(verts, faces)
    blocking = scene_of(*occluders) if occluders is not None else None
    ious = {}
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        if image.name not in masks:
            continue
        dirs_cam, (h, w) = camera_grid(image.camera, long_side / max(image.camera.width, image.camera.height))
        dirs = dirs_cam @ image.cam_from_world().rotation.matrix()
        centres = np.broadcast_to(image.projection_center(), dirs.shape)
        t_hit, ids, _ = cast(scene, centres, dirs)
        rendered = ids >= 0
        if blocking is not None:
            rendered &= t_hit <= cast(blocking, centres, dirs)[0] * 1.001
        rendered = rendered.reshape(h, w)
        mask = cv2.resize(np.asarray(masks[image.name], np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        ious[image.name] = float((rendered & mask).sum() / max((rendered | mask).sum(), 1))
    return ious


def true_object_masks(obj_v, obj_f, scene_v, scene_f, cameras):
    """{name: bool mask} where each camera sees the true object in front of the rest of the scene.
    cameras: {name: (R, t, K, width, height)} with x_cam = R x + t, pixel centres at +0.5."""
    from .raster import cast, scene_of

    obj, everything = scene_of(obj_v, obj_f), scene_of(scene_v, scene_f)
    masks = {}
    for name, (rot, t, k, width, height) in cameras.items():
        ys, xs = np.mgrid[0:height, 0:width]
        pix = np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(width * height)])
        dirs = pix @ np.linalg.inv(k).T @ rot
        centre = np.broadcast_to(-rot.T @ t, dirs.shape)
        t_obj, _, _ = cast(obj, centre, dirs)
        t_all, _, _ = cast(everything, centre, dirs)
        masks[name] = (np.isfinite(t_obj) & (t_obj <= t_all * 1.001)).reshape(height, width)
    return masks


def seam_jump(vmap, uv_faces, uv, texture):
    """Mean colour difference (grey levels, RGB) between the two reads of each edge's midpoint,
    one through each face that has the edge: 0 where the texture runs on across an edge, the
    size of the speckles along the atlas's seams elsewhere. vmap: atlas vertex -> mesh vertex."""
    from .atlas import neighbours
    from .texture import sample

    across = neighbours(vmap[uv_faces])
    face, edge = np.nonzero(across > np.arange(len(across))[:, None])   # each edge once
    other = across[face, edge]
    other_edge = np.argmax(across[other] == face[:, None], axis=1)
    size = np.array([texture.shape[1], texture.shape[0]])

    def read(f, k):   # edge k of face f runs from its vertex k+1 to k+2
        return sample(texture, (uv[uv_faces[f, (k + 1) % 3]] + uv[uv_faces[f, (k + 2) % 3]]) / 2 * size)
    return float(np.abs(read(face, edge) - read(other, other_edge)).mean())


def texture_error(rec, images_dir, verts, uv_faces, uv, texture, views=4, levels=(0, 2)):
    """{level: mean |render - photo|} (grey levels, RGB) over the model's pixels in `views`
    registered photos spread over the set: the textured model ray cast from each photo's pose
    at 1/2**level of its size, the texture read bilinearly from a copy shrunk as much (box
    filter: a viewer's mipmap 2**level times farther away), against the photo shrunk as much.
    Level 0 is the detail up close; level 2 what a whole-model view shows. verts: per atlas vertex."""
    import cv2

    from .raster import camera_grid, cast, interpolate, scene_of
    from .texture import sample

    scene = scene_of(verts, uv_faces)
    ids = sorted(rec.reg_image_ids())
    chosen = ids[:: max(1, len(ids) // views)][:views]
    shrunk = [texture.astype(np.float32)]
    while len(shrunk) <= max(levels):
        shrunk.append(cv2.resize(shrunk[-1], (shrunk[-1].shape[1] // 2, shrunk[-1].shape[0] // 2),
                                 interpolation=cv2.INTER_AREA))
    total, count = dict.fromkeys(levels, 0.0), dict.fromkeys(levels, 0)
    for image_id in chosen:
        image = rec.image(image_id)
        photo = cv2.cvtColor(cv2.imread(str(pathlib.Path(images_dir) / image.name), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        for level in levels:
            dirs_cam, (h, w) = camera_grid(image.camera, 0.5 ** level)
            dirs = dirs_cam @ image.cam_from_world().rotation.matrix()
            _, face, bary = cast(scene, np.broadcast_to(image.projection_center(), dirs.shape), dirs)
            hit = face >= 0
            tex = shrunk[level]
            colour = sample(tex, interpolate(uv, uv_faces, face[hit], bary[hit]) * np.array([tex.shape[1], tex.shape[0]]))
            seen = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA).reshape(-1, 3)[hit]
            total[level] += float(np.abs(colour - seen).sum()) / 3
            count[level] += int(hit.sum())
    errors = {level: total[level] / max(count[level], 1) for level in levels}
    return errors
