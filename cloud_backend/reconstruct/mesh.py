"""Stage 5 — a clean, closed-ish surface in `mesh/mesh.ply`, and `mesh/closed.ply` for printing.

Screened Poisson (open3d) over the fused points after removing the turntable
plate and the background; then keep the main component, drop weakly
supported parts (with object masks: only those the masks put on the background),
and decimate to `mesh_faces`. The same Poisson
surface before that trimming, clipped to the points' box, is the print solid's source
(export.py -> printable.py): closed where the photos did not look.
"""
import pathlib

import numpy as np
import open3d as o3d

from . import ingest, sfm
from .errors import ReconstructionError
from .options import num_threads
from .stage import command, fresh_dir, no_progress

MIN_DEPTH = 8   # Poisson below this costs too little to save (DTU scan24: 2.4 s at 8)
# Poisson's octree stops splitting below 3 points per node, not open3d's 1.5: the finest level
# then covers only where points are dense. Same surface (rig scan: chamfer 0.1689 -> 0.1687 mm;
# DTU scan24 IoU 0.945 -> 0.946; templeRing's against crude masks 0.879 -> 0.881) in half the
# time where they are sparse (rig 61 -> 26 s, templeRing 9.6 -> 5.0 s; DTU unchanged).
SAMPLES_PER_NODE = 3.0


def run(layout, options, progress=no_progress):
    return main(layout.fused, layout.sparse, layout.frame, layout.ingest, layout.masks, layout.mesh,
                layout.closed_mesh, options, progress)


def main(fused, sparse, frame, ingest_info, masks_dir, mesh_path, closed_path, options, progress=no_progress):
    """The object's surface from the fused points into `mesh_path` (trimmed to where points
    are, or with object masks in `masks_dir` to where they are) and `closed_path` (untrimmed,
    clipped to the points' box). The cameras (sparse) say where the object is; a metric model
    (frame) and the manifest's plate height, where it stands."""
    fresh_dir(pathlib.Path(mesh_path).parent)
    pcd = o3d.io.read_point_cloud(str(fused))
    rec = sfm.load(sparse)
    centres = np.array([rec.image(i).projection_center() for i in rec.reg_image_ids()])
    info = ingest.read(ingest_info)
    manifest = info["manifest"]
    metric = sfm.read_frame(frame)["units"] == "mm"
    plate_z = manifest.plate_z_mm if manifest is not None and metric else None
    if options["objecttype"] == "scene":   # keep everything the photos show; only strays go
        plate_z = None
        pcd, removed_plate = pcd.remove_statistical_outlier(20, 2.0)[0], False
    else:
        pcd, removed_plate = isolate_object(pcd, centres, plate_z)
    progress(0.15)
    if len(pcd.points) < 500:
        raise ReconstructionError("too few surface points remain on the object to build a mesh")
    orient_normals(pcd)
    depth = depth_for(pcd, int(options["poisson_depth"]), int(options["mesh_faces"]))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        mesh, _ = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(
            pcd, depth=depth, n_threads=num_threads(options), samples_per_node=SAMPLES_PER_NODE
        )
    progress(0.6)
    target = int(options["mesh_faces"])
    write_closed(o3d.geometry.TriangleMesh(mesh), pcd, plate_z, target, closed_path)
    trim = unsupported(mesh, pcd, float(options["trim_spacings"]), plate_z)
    if ingest.uses_masks(info, options) and options["objecttype"] == "object":
        # the photos' masks say where the object is: Poisson's surface across a gap in the
        # points stays where every mask agrees (DTU scan24: silhouette IoU 0.918 -> 0.957)
        # (only the unsupported vertices need asking: the rest stay anyway)
        trim[trim] = on_background(np.asarray(mesh.vertices)[trim], rec, masks_dir)
    mesh.remove_vertices_by_mask(without_gaps(mesh, trim, float(options["trim_min_fraction"]) * len(trim)))
    mesh = keep_largest_component(mesh)
    progress(0.7)
    if len(mesh.triangles) > target:
        mesh = decimate(mesh, target)
    mesh = clean(mesh)
    # Taubin (volume preserving) smoothing takes the SGBM depth noise off the
    # surface without shrinking it.
    mesh = mesh.filter_smooth_taubin(int(options["smooth_iterations"]))
    progress(0.95)
    if len(mesh.triangles) < 100:
        raise ReconstructionError("the surface mesh came out empty; the object could not be separated from its background")
    mesh.compute_vertex_normals()
    o3d.io.write_triangle_mesh(str(mesh_path), mesh)
    return {
        "poisson_depth": depth, "faces": len(mesh.triangles), "vertices": len(mesh.vertices),
        "object_points": len(pcd.points), "plate_removed": removed_plate,
        "watertight": bool(mesh.is_watertight()),
    }


def write_closed(mesh, pcd, plate_z, target, path):
    """The Poisson surface untrimmed, clipped to the points' 0.1-99.9 percentile box (down to
    the plate when it is known): where no photo looked (under the object, the holes the
    trimmed mesh keeps open) Poisson's closure stands in, which a print needs. Percentiles,
    not min/max: a few strays at the silhouettes let the closure bulge out to them (rendered
    1280x960 scan, standard: STL volume -44 % from the trimmed mesh, -0.8 % from this one;
    extents within 0.9 %)."""
    pts = np.asarray(pcd.points)
    lo, hi = np.percentile(pts, 0.1, axis=0), np.percentile(pts, 99.9, axis=0)
    if plate_z is not None:
        lo[2] = plate_z
    verts = np.asarray(mesh.vertices)
    mesh.remove_vertices_by_mask(((verts < lo) | (verts > hi)).any(axis=1))
    mesh = keep_largest_component(mesh)
    if len(mesh.triangles) > target:
        mesh = decimate(mesh, target)
    o3d.io.write_triangle_mesh(str(path), mesh)


def depth_for(pcd, deepest, faces):
    """The Poisson octree depth whose cells match the points' spacing, at most `deepest`, and no
    deeper than it takes to give decimation ~4x the face budget `faces` to choose from.

    Finer cells than the points only add faces to smooth away; coarser ones lose the
    detail the photos hold (templeRing's 640 px photos: 9; 16 MP photos: 11 and more).
    Each level quadruples Poisson's faces and time: DTU scan24's points asked for 11, and at
    10 Poisson made 4.2M faces in 28 s for a 200k budget; at 9 it makes 1.3M in 7.5 s, and the
    mesh's silhouette IoU stays the same (0.963 -> 0.964 with masks, 0.928 -> 0.925 without).
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(pcd.points)
    sample = pts[np.random.default_rng(0).choice(len(pts), min(len(pts), 20000), replace=False)]
    spacing = np.median(cKDTree(pts).query(sample, k=2)[0][:, 1])
    extent = np.linalg.norm(np.percentile(pts, 99, axis=0) - np.percentile(pts, 1, axis=0))
    fine = int(np.round(np.log2(extent / max(spacing, 1e-12))))
    # The surface's area in cells of a level 8x coarser than the spacing (every cell it crosses
    # holds points there). Poisson makes ~4 faces per such cell (DTU scan24: 4.05), 4x as many
    # per level down; decimation gets ~4x the budget from the level where cells x 4^k >= faces.
    coarse = max(fine - 3, 4)
    side = 1.1 * (pts.max(axis=0) - pts.min(axis=0)).max()   # Poisson's cube: open3d's scale 1.1
    cells = len(np.unique(np.floor((pts - pts.min(axis=0)) * (2 ** coarse / side)).astype(np.int64), axis=0))
    by_budget = coarse + int(np.ceil(np.log(max(faces / cells, 1.0)) / np.log(4)))
    by_spacing = int(np.clip(fine, 6, deepest))
    return min(by_spacing, max(by_budget, MIN_DEPTH))


def unsupported(mesh, pcd, spacings, plate_z=None):
    """Vertices of the Poisson surface with no fused points near them.

    Poisson closes the surface far beyond the data. Trimming by distance to the
    points keeps sparsely seen parts that a density quantile cut away (synthetic
    scan, Poisson depth 9: chamfer 0.36% -> 0.29% of the diagonal). With the
    plate height known, the object stands on it: the surface between the lowest
    points and the plate (grazing views, rarely fused) is kept as Poisson closes
    it (-> 0.25%), and only what lies below the plate goes.
    """
    from scipy.spatial import cKDTree

    pts = np.asarray(pcd.points)
    tree = cKDTree(pts)
    spacing = np.median(tree.query(pts, k=2, workers=-1)[0][:, 1])   # workers: every core
    verts = np.asarray(mesh.vertices)
    far = tree.query(verts, distance_upper_bound=spacings * spacing, workers=-1)[0] > spacings * spacing
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = 0.025 * (hi - lo)
    box_lo, box_hi = lo - margin, hi + margin
    if plate_z is not None:
        far &= ~((verts[:, 2] < lo[2]) & (verts[:, 2] > plate_z))
        box_lo[2] = plate_z
    outside = ((verts < box_lo) | (verts > box_hi)).any(axis=1)
    return far | outside


def on_background(verts, rec, masks_dir, margin_px=4):
    """Vertices that a photo's object mask puts on the background (outside the visual hull),
    with `margin_px` of slack for the masks' and the poses' error at the silhouette."""
    import cv2

    outside = np.zeros(len(verts), bool)
    slack = np.ones((2 * margin_px + 1, 2 * margin_px + 1), np.uint8)
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        mask = ingest.read_mask(masks_dir, image)
        if mask is None:
            continue
        width, height = image.camera.width, image.camera.height
        mask = cv2.dilate(mask, slack) > 0
        pose = image.cam_from_world()
        in_camera = verts @ pose.rotation.matrix().T + pose.translation
        front = np.flatnonzero(in_camera[:, 2] > 0)
        uv = np.floor(image.camera.img_from_cam(in_camera[front])).astype(np.int64)
        seen = (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
        outside[front[seen]] |= ~mask[uv[seen, 1], uv[seen, 0]]
    return outside


def without_gaps(mesh, trim, min_vertices):
    """`trim` less its patches of fewer than `min_vertices` connected vertices.

    Where fusion left a small gap (dark windows, glints) the surface around it is
    supported and Poisson's patch across it is a fair guess, not a hole the photos
    saw through (DTU scan24 without masks: 177 unsupported patches, 172 of them under
    0.05 % of the surface). Larger thresholds cost accuracy: on the 16 MP rig scan 0.05 %
    left 8 holes at 0.237 % chamfer, 0.2 % 7 holes at 0.242 %, none 82 holes at 0.221 %.
    """
    faces = np.asarray(mesh.triangles)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    label = _component_labels(len(trim), edges[trim[edges].all(axis=1)])   # links inside the trimmed region only
    size = np.bincount(label[trim], minlength=label.max() + 1)
    return trim & (size[label] >= min_vertices)


def isolate_object(pcd, centres, plate_z=None, plate_margin_mm=1.0):
    """Drop background, turntable plate and stray points from the fused cloud.

    The model is upright with the turntable axis on +Z through the origin (sfm.py),
    so the object sits near the axis, inside the ring of cameras; the plate is
    at `plate_z` when the manifest says so, else the dominant horizontal plane
    under the object that reaches beyond it.
    """
    pts = np.asarray(pcd.points)
    ring_radius = np.median(np.linalg.norm(centres[:, :2], axis=1))
    keep = np.linalg.norm(pts[:, :2], axis=1) < 0.6 * ring_radius
    removed_plate = False
    if plate_z is not None:   # metric model in the turntable frame: the rig says where the plate is
        keep &= pts[:, 2] > plate_z + plate_margin_mm
        removed_plate = True
    pcd = pcd.select_by_index(np.flatnonzero(keep))
    if len(pcd.points) > 1000:
        extent = np.linalg.norm(pcd.get_max_bound() - pcd.get_min_bound())
        plane, inliers = pcd.segment_plane(0.005 * extent, 3, 200)
        normal = np.asarray(plane[:3]) / np.linalg.norm(plane[:3])
        pts = np.asarray(pcd.points)
        if abs(normal[2]) > 0.94 and len(inliers) > 0.08 * len(pcd.points) and _wider_than_rest(pts, inliers):
            height = np.sign(normal[2]) * (pts @ normal + plane[3]) / np.linalg.norm(plane[:3])
            pcd = pcd.select_by_index(np.flatnonzero(height > 0.004 * extent))
            removed_plate = True
    if len(pcd.points) > 100:
        pcd, _ = pcd.remove_statistical_outlier(20, 2.0)
    return pcd, removed_plate


def _wider_than_rest(pts, inliers):
    """A plate reaches beyond the object's footprint; an object's own flat base does not."""
    mask = np.zeros(len(pts), bool)
    mask[inliers] = True
    radius = np.linalg.norm(pts[:, :2] - np.median(pts[:, :2], axis=0), axis=1)
    return np.percentile(radius[mask], 95) > 1.2 * np.percentile(radius[~mask], 95)


def orient_normals(pcd):
    """PCA normals (smoother than fused depth-map normals), signed like the fused ones.

    Fused normals face the cameras that saw each point, so they fix the sign
    Poisson needs without a global orientation pass.
    """
    fused = np.asarray(pcd.normals).copy() if pcd.has_normals() else None
    extent = np.linalg.norm(pcd.get_max_bound() - pcd.get_min_bound())
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=0.02 * extent, max_nn=30))
    if fused is not None and len(fused) == len(pcd.points):
        normals = np.asarray(pcd.normals)
        flip = (normals * fused).sum(1) < 0
        normals[flip] *= -1
        pcd.normals = o3d.utility.Vector3dVector(normals)
    else:
        pcd.orient_normals_consistent_tangent_plane(10)


def decimate(mesh, target):
    """Quadric decimation; fast-simplification is ~5x faster than open3d's on 700k faces."""
    import fast_simplification

    verts, faces = fast_simplification.simplify(
        np.asarray(mesh.vertices, np.float32), np.asarray(mesh.triangles, np.int32),
        target_reduction=1.0 - target / len(mesh.triangles),
    )
    return o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(verts.astype(np.float64)), o3d.utility.Vector3iVector(faces)
    )


def keep_largest_component(mesh):
    """Drop every part not connected to the one with the most faces.

    Components via scipy over shared vertices: open3d's cluster_connected_triangles
    took 2.4 s on a 700k-face Poisson mesh, this ~0.1 s.
    """
    faces = np.asarray(mesh.triangles)
    if not len(faces):
        return mesh
    label = _component_labels(len(mesh.vertices), np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]]]))
    face_label = label[faces[:, 0]]
    main_label = np.bincount(face_label).argmax()
    mesh.remove_triangles_by_mask(face_label != main_label)
    mesh.remove_unreferenced_vertices()
    return mesh


def _component_labels(n, edges):
    """Connected-component label of each of n vertices linked by `edges` (k, 2)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def clean(mesh):
    # Non-manifold edges (fast-simplification folds a few thousand) stay: removing their
    # faces punched ~2,400 pinholes into DTU scan24's surface; every later step and
    # format takes them. So do the slivers decimation splits off the one connected surface
    # (rig render, 130 x 16 MP: 76 pieces, 467 of 1M faces): they lie on the surface, and
    # dropping them opened its underside (completeness 0.165 -> 0.173 mm).
    mesh.remove_degenerate_triangles()
    mesh.remove_duplicated_triangles()
    mesh.remove_duplicated_vertices()
    mesh.remove_unreferenced_vertices()
    return mesh


if __name__ == "__main__":
    command("mesh", run)
