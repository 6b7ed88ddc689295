"""Stage 4 — depth maps for every registered view, fused into `dense/fused.ply`.

Undistorts into a COLMAP MVS workspace (`dense/`), then computes depth and
normal maps either with pycolmap's CUDA `patch_match_stereo` or, on CPU,
with OpenCV SGBM on rectified neighbouring pairs (stereo_cpu.py). Both write
pycolmap DepthMap/NormalMap files, so pycolmap's `stereo_fusion` does the
multi-view consistency check either way.
"""
import pathlib

import cv2
import numpy as np
import pycolmap

from . import ingest, stereo_cpu
from .errors import ReconstructionError
from .options import gpu_enabled, num_threads
from .stage import command, fresh_dir, no_progress

MIN_FUSED_POINTS = 1000


def run(layout, options, progress=no_progress):
    return main(layout.images, layout.masks, layout.sparse, layout.dense, layout.fused, options, progress)


def main(images, masks_dir, sparse, dense_dir, fused, options, progress=no_progress):
    """An MVS workspace in `dense_dir` (undistorted photos, depth and normal maps) and the
    fused points in `fused`. masks_dir: object masks `<photo>.png`, used where present unless
    masking is 'off'. objecttype 'scene': the views are not cropped to the object."""
    dense_dir = fresh_dir(dense_dir)
    dense_size = int(options["dense_max_image_size"])   # 0: the photos' size
    undistort = pycolmap.UndistortCameraOptions()
    if gpu_enabled(options):   # patch_match_stereo sizes its own maps, on the whole photos
        method = "patch_match_stereo (CUDA)"
        undistort.max_image_size = dense_size or -1
        pycolmap.undistort_images(
            dense_dir, sparse, images, undistort_options=undistort, num_threads=num_threads(options),
        )
        rec = pycolmap.Reconstruction(dense_dir / "sparse")
        progress(0.12)
        _patch_match(dense_dir, options)
        _apply_masks(dense_dir, rec, {} if options["masking"] == "off" else _load_masks(masks_dir, rec))
    else:
        method = "OpenCV SGBM on rectified pairs (CPU)"
        # the size is the object's, not the photo's (a small object in a 16 MP frame keeps its
        # detail), and each view is cropped to the object; a scene is kept whole
        rec = pycolmap.Reconstruction(sparse)
        scene = options["objecttype"] == "scene"
        undistort.max_image_size = (dense_size or -1) if scene else _size_for_object(rec, dense_size)
        rec, masks = undistort_views(rec, images, None if options["masking"] == "off" else masks_dir,
                                     dense_dir, undistort, not scene, num_threads(options))
        progress(0.12)
        _cpu_depth_maps(dense_dir, rec, masks, options, lambda f: progress(0.12 + 0.68 * f))
    progress(0.8)
    fusion = pycolmap.StereoFusionOptions()
    fusion.num_threads = num_threads(options)
    fusion.min_num_pixels = int(options["fusion_min_num_pixels"])
    # Without the cache, fusion loads every depth map, normal map and photo at once (130
    # uncropped views at 16 MP: ~39 GB); with it, at most `fusion_cache_gb`. The cache re-reads
    # maps (templeRing: 125 s instead of 50 s; the 130-view rig scan's 2.5 GB of crops: ~19 min
    # instead of 50 s), so it is used only when the maps would not fit.
    fusion.cache_size = float(options["fusion_cache_gb"])
    fusion.use_cache = _workspace_gb(rec) > fusion.cache_size
    # Normals from SGBM depth gradients differ by 10-20 degrees between views, and
    # fusion's normal test then rejects >90% of good pixels (templeRing: 16k vs
    # 138k points). Depth (1%) and reprojection (2 px) consistency still apply;
    # the mesh stage re-estimates normals from the fused points.
    fusion.max_normal_error = 90.0 if not gpu_enabled(options) else 10.0
    points = pycolmap.stereo_fusion(
        fused, dense_dir, input_type="geometric", options=fusion, output_type="PLY"
    )
    n_points = points.num_points3D() if points is not None else 0
    if not pathlib.Path(fused).exists() or n_points < MIN_FUSED_POINTS:
        raise ReconstructionError(
            f"the dense reconstruction found only {n_points} surface points; "
            "the object may lack texture or the photos may be blurred"
        )
    progress(1.0)
    return {"method": method, "fused_points": int(n_points), "views": rec.num_reg_images()}


def _size_for_object(rec, dense_size):
    """Longest side to undistort the photos at so that the object's crop (object_box) is about
    `dense_size` px on its longest side: -1 (the photos' own size) when that needs them whole."""
    ids = list(rec.reg_image_ids())
    object_px = np.median([max(x1 - x0, y1 - y0) for x0, y0, x1, y1 in (object_box(rec.image(i)) for i in ids)])
    photo_px = max(max(rec.image(i).camera.width, rec.image(i).camera.height) for i in ids)
    if dense_size <= 0 or dense_size >= object_px:
        return -1
    return int(round(photo_px * dense_size / object_px))


def object_box(image, margin=0.15):
    """(x0, y0, x1, y1): where the view's sparse points are, grown by `margin` of that box on
    each side (the whole image when it sees too few points)."""
    xy = np.array([p.xy for p in image.points2D if p.has_point3D()]).reshape(-1, 2)
    return _box(xy, image.camera.width, image.camera.height, margin)


def _box(xy, w, h, margin=0.15):
    if len(xy) < 20:
        return 0, 0, w, h
    lo, hi = np.percentile(xy, 1, axis=0), np.percentile(xy, 99, axis=0)
    pad = margin * (hi - lo)
    x0, y0 = np.maximum(np.floor(lo - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(hi + pad), [w, h]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def undistort_views(rec, images, masks_dir, dense_dir, undistort, crop, threads):
    """The MVS workspace of the CPU path in `dense_dir`: each registered photo (and its mask in
    `masks_dir`, if any) undistorted as COLMAP does (PINHOLE at `undistort`'s size), and with
    `crop` only its object_box, in one resampling; stereo_fusion's sparse model and fusion.cfg.
    Returns (that model, {image_id: mask}). COLMAP's undistorter wrote every 16 MP photo whole
    and the crop was cut from it after: 115 s of the 130-photo rig scan's dense stage."""
    from concurrent.futures import ThreadPoolExecutor

    (dense_dir / "images").mkdir(parents=True)
    for folder in ("depth_maps", "normal_maps"):
        (dense_dir / "stereo" / folder).mkdir(parents=True)
    ids = sorted(rec.reg_image_ids())
    pinholes = {cid: pycolmap.undistort_camera(undistort, camera) for cid, camera in rec.cameras.items()}

    def one(image_id):
        image = rec.image(image_id)
        camera, pinhole = image.camera, pinholes[image.camera_id]
        xy = np.array([p.xy for p in image.points2D]).reshape(-1, 2)
        rays = camera.cam_from_img(xy)
        xy = pinhole.img_from_cam(np.c_[rays, np.ones(len(rays))], check_cheirality=False)
        observed = np.array([p.has_point3D() for p in image.points2D], bool)
        x0, y0, x1, y1 = _box(xy[observed], pinhole.width, pinhole.height) if crop else \
            (0, 0, pinhole.width, pinhole.height)
        maps = source_pixels(camera, pinhole, (x0, y0, x1, y1))
        photo = cv2.imread(str(pathlib.Path(images) / image.name), cv2.IMREAD_COLOR)
        path = dense_dir / "images" / image.name
        path.parent.mkdir(parents=True, exist_ok=True)
        jpeg = path.suffix.lower() in (".jpg", ".jpeg")   # PNG stays lossless, without a JPEG setting
        cv2.imwrite(str(path), cv2.remap(photo, *maps, cv2.INTER_LINEAR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95] if jpeg else [])
        mask = ingest.read_mask(masks_dir, image) if masks_dir else None
        if mask is not None:
            mask = cv2.remap(mask, *maps, cv2.INTER_NEAREST)
        fx, fy, cx, cy = pinhole.params
        view = pycolmap.Camera(model="PINHOLE", width=x1 - x0, height=y1 - y0,
                               params=[fx, fy, cx - x0, cy - y0], camera_id=image_id)
        return view, xy - (x0, y0), mask

    views = pycolmap.Reconstruction()
    masks = {}
    with ThreadPoolExecutor(threads) as pool:   # OpenCV and pycolmap release the GIL
        for image_id, (camera, xy, mask) in zip(ids, pool.map(one, ids)):
            image = rec.image(image_id)
            views.add_camera_with_trivial_rig(camera)
            points = pycolmap.Point2DList([pycolmap.Point2D(p) for p in xy])
            views.add_image_with_trivial_frame(
                pycolmap.Image(name=image.name, points2D=points, camera_id=image_id, image_id=image_id),
                image.cam_from_world())
            if mask is not None:
                masks[image_id] = mask
    for point in rec.points3D.values():
        views.add_point3D(point.xyz, point.track, point.color)
    views.write(fresh_dir(dense_dir / "sparse"))
    (dense_dir / "stereo" / "fusion.cfg").write_text("".join(f"{rec.image(i).name}\n" for i in ids))
    return views, masks


# COLMAP camera models whose distortion is OpenCV's (same polynomial, same coefficients)
OPENCV_DISTORTION = {
    "SIMPLE_PINHOLE": lambda p: np.zeros(4), "PINHOLE": lambda p: np.zeros(4),
    "SIMPLE_RADIAL": lambda p: np.array([p[3], 0, 0, 0]), "RADIAL": lambda p: np.array([p[3], p[4], 0, 0]),
    "OPENCV": lambda p: np.asarray(p[4:8]), "FULL_OPENCV": lambda p: np.asarray(p[4:12]),
}


def source_pixels(camera, pinhole, box):
    """cv2.remap's maps: for each pixel of `box` (x0, y0, x1, y1) in the undistorted `pinhole`
    view, where it lies in the photo taken with `camera`. OpenCV computes them for the models
    it shares with COLMAP; any other goes through pycolmap pixel by pixel (slower, exact)."""
    x0, y0, x1, y1 = box
    new_k = stereo_cpu.opencv_k(pinhole.calibration_matrix())
    new_k[:2, 2] -= (x0, y0)
    distortion = OPENCV_DISTORTION.get(camera.model.name)
    if distortion is not None:
        return cv2.initUndistortRectifyMap(stereo_cpu.opencv_k(camera.calibration_matrix()),
                                           distortion(camera.params), None, new_k, (x1 - x0, y1 - y0),
                                           cv2.CV_32FC1)
    xs, ys = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)   # COLMAP's pixel centres
    rays = pinhole.cam_from_img(np.c_[xs.ravel(), ys.ravel()])
    pix = camera.img_from_cam(np.c_[rays, np.ones(len(rays))], check_cheirality=False) - 0.5
    return tuple(pix[:, axis].reshape(xs.shape).astype(np.float32) for axis in (0, 1))


def _workspace_gb(rec):
    """Memory fusion needs to hold every view: depth (4 B), normal (12 B) and colour (3 B) per pixel."""
    return sum(c.width * c.height * 19 for c in (rec.image(i).camera for i in rec.reg_image_ids())) / 1024**3


def _patch_match(dense_dir, options):
    pm = pycolmap.PatchMatchOptions()
    pm.max_image_size = int(options["dense_max_image_size"]) or -1
    pm.geom_consistency = True
    pycolmap.patch_match_stereo(dense_dir, options=pm)


def _cpu_depth_maps(dense_dir, rec, masks, options, progress):
    """One depth + normal map per view; views run on a thread each (OpenCV and
    NumPy release the GIL), which the per-view steps outside SGBM need."""
    from concurrent.futures import ThreadPoolExecutor

    ids = sorted(rec.reg_image_ids())
    partners = choose_partners(rec, int(options["dense_num_neighbors"]))
    with ThreadPoolExecutor(num_threads(options)) as pool:
        jobs = [pool.submit(_view_depth, dense_dir, rec, i, partners.get(i, []), masks.get(i), options) for i in ids]
        for n, job in enumerate(jobs):
            job.result()
            progress((n + 1) / len(ids))


def _view_depth(dense_dir, rec, i, partners, mask, options):
    def gray(image_id):
        return cv2.imread(str(dense_dir / "images" / rec.image(image_id).name), cv2.IMREAD_GRAYSCALE)

    ref = rec.image(i)
    k_ref = ref.camera.calibration_matrix()
    near, far = _depth_range(rec, ref)
    img_ref = gray(i)
    depths = []
    for j in partners:
        src = rec.image(j)
        rel = src.cam_from_world() * ref.cam_from_world().inverse()
        depths.append(stereo_cpu.pair_depth(
            img_ref, gray(j), k_ref, src.camera.calibration_matrix(),
            rel.rotation.matrix(), rel.translation, (near, far), None, options,   # the view is the object's crop
        ))
    depth = stereo_cpu.combine(depths) if depths else np.zeros(img_ref.shape, np.float32)
    depth[(depth < near * 0.5) | (depth > far * 2)] = 0
    if mask is not None:
        depth[mask == 0] = 0
    normals, depth = stereo_cpu.normals_from_depth(depth, k_ref)
    stereo = dense_dir / "stereo"
    pycolmap.DepthMap.from_array(depth, near * 0.5, far * 2).write(
        stereo / "depth_maps" / f"{ref.name}.geometric.bin")
    pycolmap.NormalMap.from_array(normals).write(stereo / "normal_maps" / f"{ref.name}.geometric.bin")


def choose_partners(rec, count):
    """Stereo partners per view: most shared sparse points at a usable angle.

    Scores favour 5-25 degree triangulation angles (enough parallax, still similar
    appearance) and, for the second partner, the other side of the reference.
    """
    ids = sorted(rec.reg_image_ids())
    shared = {i: {} for i in ids}
    for point in rec.points3D.values():
        seen = sorted({el.image_id for el in point.track.elements})
        for a in seen:
            for b in seen:
                if a != b:
                    shared[a][b] = shared[a].get(b, 0) + 1
    centres = {i: rec.image(i).projection_center() for i in ids}
    result = {}
    for i in ids:
        ref = rec.image(i)
        look_at = _median_point(rec, ref)
        scored = []
        for j, count_ij in shared[i].items():
            a, b = centres[i] - look_at, centres[j] - look_at
            angle = np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12), -1, 1)))
            if 3 <= angle <= 40:
                weight = 1.0 if 5 <= angle <= 25 else 0.5
                scored.append((count_ij * weight, j))
        scored.sort(reverse=True)
        chosen = [j for _, j in scored[:1]]
        for _, j in scored[1:]:
            if len(chosen) >= count:
                break
            side = (centres[j] - centres[i]) @ (centres[chosen[0]] - centres[i])
            if side < 0 or len(scored) <= count:
                chosen.append(j)
        for _, j in scored:   # not enough on the other side: fill by score
            if len(chosen) >= count:
                break
            if j not in chosen:
                chosen.append(j)
        result[i] = chosen
    return result


def _median_point(rec, image):
    pts = [rec.point3D(p.point3D_id).xyz for p in image.points2D if p.has_point3D()]
    return np.median(pts, axis=0) if pts else np.zeros(3)


def _depth_range(rec, image, margin=0.25):
    """(near, far) the stereo search covers in this view: its sparse points' depths (1st to
    99th percentile), grown by `margin` of that extent on each side. The margin scales with the
    object's depth, not its distance: on a 16 MP rig scan, 0.8x..1.25x the distance searched
    four times the disparities the depth maps ended up holding (375 px, capped, vs 92)."""
    pts = np.array([rec.point3D(p.point3D_id).xyz for p in image.points2D if p.has_point3D()])
    if not len(pts):
        return 1e-3, 1e3
    pose = image.cam_from_world()
    z = (pts @ pose.rotation.matrix().T + pose.translation)[:, 2]
    z = z[z > 0]
    lo, hi = np.percentile(z, [1, 99])
    pad = margin * (hi - lo)
    return float(max(lo - pad, 0.5 * lo)), float(hi + pad)


def _load_masks(masks_dir, rec):
    masks = {i: ingest.read_mask(masks_dir, rec.image(i)) for i in rec.reg_image_ids()}
    return {i: mask for i, mask in masks.items() if mask is not None}


def _apply_masks(dense_dir, rec, masks):
    """Blank the background in patch-match depth maps, as the CPU path does."""
    for image_id, mask in masks.items():
        path = dense_dir / "stereo" / "depth_maps" / f"{rec.image(image_id).name}.geometric.bin"
        if path.exists():
            depth_map = pycolmap.DepthMap()
            depth_map.read(path)
            depth = depth_map.to_array()
            depth[mask == 0] = 0
            pycolmap.DepthMap.from_array(depth, depth_map.depth_min, depth_map.depth_max).write(path)


if __name__ == "__main__":
    command("dense", run)
