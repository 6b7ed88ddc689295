"""CPU depth maps: OpenCV semi-global matching on rectified neighbouring pairs.

Everything per pixel runs inside OpenCV/NumPy (rectify, SGBM, warp back);
Python only loops over views and partners.
"""
import cv2
import numpy as np

from .options import DEFAULTS, QUALITY


def pair_depth(img_ref, img_src, k_ref, k_src, rel_r, rel_t, depth_range, roi=None, options=DEFAULTS):
    """Depth map (in the reference camera, 0 = unknown) from one stereo partner.

    rel_r, rel_t: x_src = rel_r @ x_ref + rel_t. depth_range: (near, far) of the scene
    in this view, from the sparse points; it bounds the disparity search.
    roi: (x0, y0, x1, y1) of the reference image worth matching (where the object
    is); only that part is rectified, which on rig scans with a small object in a
    large frame cuts the matching work several times. options: the pipeline's, for
    the `sgbm_*` settings.
    """
    h, w = img_ref.shape[:2]
    k_ref, k_src = opencv_k(k_ref), opencv_k(k_src)
    no_dist = np.zeros(5)
    rel_t = np.asarray(rel_t, np.float64).reshape(3, 1)
    # Only the rotations are taken from OpenCV: its own P1/P2 shrink the focal
    # length to fit converging views (250 instead of 350 px, or negative), which
    # costs depth precision. We keep the original focal on a canvas that fits.
    r1, r2, *_ = cv2.stereoRectify(k_ref, no_dist, k_src, no_dist, (w, h),
                                   np.asarray(rel_r, np.float64), rel_t, flags=cv2.CALIB_ZERO_DISPARITY)
    focal = 0.5 * (k_ref[0, 0] + k_ref[1, 1])
    shift = (r2 @ rel_t).ravel()
    horizontal = abs(shift[0]) >= abs(shift[1])
    baseline_px = focal * (shift[0] if horizontal else shift[1])   # < 0: partner on the + side
    baseline = abs(baseline_px) / focal
    near, far = depth_range
    d_max = focal * baseline / max(near, 1e-9)
    d_min = focal * baseline / max(far, 1e-9)
    k_rect, size = _canvas(k_ref, r1, roi or (0, 0, w, h), (w, h), focal, d_max, horizontal)
    if k_rect is None:
        return np.zeros((h, w), np.float32)
    map_ref = cv2.initUndistortRectifyMap(k_ref, no_dist, r1, k_rect, size, cv2.CV_32FC1)
    map_src = cv2.initUndistortRectifyMap(k_src, no_dist, r2, k_rect, size, cv2.CV_32FC1)
    rect_ref = cv2.remap(img_ref, *map_ref, cv2.INTER_LINEAR)
    rect_src = cv2.remap(img_src, *map_src, cv2.INTER_LINEAR)
    in_ref = cv2.remap(np.full_like(img_ref, 255, np.uint8), *map_ref, cv2.INTER_NEAREST)   # 0: off the photo
    if not horizontal:   # vertical baseline: transpose so the epipolar lines are rows
        rect_ref, rect_src, in_ref = (a.swapaxes(0, 1).copy() for a in (rect_ref, rect_src, in_ref))
    mirror = baseline_px > 0   # SGBM wants the partner on the +x side ("right")
    if mirror:
        rect_ref, rect_src, in_ref = (cv2.flip(a, 1) for a in (rect_ref, rect_src, in_ref))
    columns = np.flatnonzero(in_ref.any(axis=0))
    if not len(columns):
        return np.zeros((h, w), np.float32)
    a, b = columns[0], columns[-1] + 1
    disp = _sgbm(rect_ref, rect_src, d_min, d_max, options["sgbm_max_disparity_fraction"] * w, options, (a, b))
    disp[~textured(rect_ref, texture_window(max(w, h)), float(options["sgbm_min_contrast"]), (a, b))] = 0
    if mirror:
        disp = cv2.flip(disp, 1)
    if not horizontal:
        disp = disp.swapaxes(0, 1).copy()
    with np.errstate(divide="ignore"):
        z_rect = np.where(disp > 0, focal * baseline / disp, 0).astype(np.float32)
    depth = _to_reference(z_rect, k_ref, r1, k_rect, (w, h))
    if roi is not None:   # the canvas's disparity margin reaches past the roi
        x0, y0, x1, y1 = (int(round(v)) for v in roi)
        inside = np.zeros_like(depth, bool)
        inside[max(y0, 0):y1, max(x0, 0):x1] = True
        depth[~inside] = 0
    return depth


def opencv_k(k):
    """COLMAP puts pixel centres at +0.5, OpenCV at integers: shift the principal point."""
    k = np.array(k, np.float64)
    k[0, 2] -= 0.5
    k[1, 2] -= 0.5
    return k


def _canvas(k_ref, r1, roi, size, focal, d_max, horizontal, max_growth=2.5):
    """Rectified intrinsics at the original focal length, and a canvas holding the
    reference view's roi plus room for the disparity shift along the baseline."""
    w, h = size
    x0, y0, x1, y1 = roi
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], float).T
    rays = r1 @ np.linalg.inv(k_ref) @ corners
    if (rays[2] <= 0).any():
        return None, None
    xy = focal * rays[:2] / rays[2]
    lo, hi = xy.min(axis=1), xy.max(axis=1)
    margin = np.array([d_max, 0.0]) if horizontal else np.array([0.0, d_max])
    lo, hi = lo - margin, hi + margin
    width, height = int(np.ceil(hi[0] - lo[0])), int(np.ceil(hi[1] - lo[1]))
    if width * height > max_growth ** 2 * w * h:   # extreme geometry: not a useful pair
        return None, None
    k_rect = np.array([[focal, 0, -lo[0]], [0, focal, -lo[1]], [0, 0, 1]])
    return k_rect, (width, height)


def _sgbm(left, right, d_min, d_max, max_span, options, columns):
    """Disparity of each `left` pixel in `columns` (a, b): where the reference photo lies on
    the rectified canvas. The canvas has room for the disparity on both sides, and matching
    only the reference's columns against the partner's columns that can hold their match
    halves the work at full size (16 MP rig crops: canvases 3220 px wide for 1484 of photo)."""
    min_disp = int(np.floor(max(d_min, 0)))   # depth_range carries the margin
    span = max(16, int(np.ceil((d_max - min_disp) / 16.0)) * 16)
    span = min(span, 16 * max(1, int(max_span / 16)))   # bounded cost: wider ranges mean a bad partner anyway
    block = int(options["sgbm_block_size"])
    matcher = cv2.StereoSGBM_create(
        minDisparity=0, numDisparities=span, blockSize=block,
        P1=8 * block * block, P2=32 * block * block,   # grayscale input
        disp12MaxDiff=1, uniquenessRatio=int(options["sgbm_uniqueness_ratio"]), speckleWindowSize=100, speckleRange=2,
        mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY,
    )
    # SGBM leaves its first numDisparities columns empty: pad them on so every reference
    # column gets depth. Left column x matches the partner's x - min_disp - [0, span): shifting
    # the partner by min_disp instead of passing minDisparity keeps the pad (and the work) to `span`.
    a, b = columns
    left_p = _columns(left, a - span, b)
    right_p = _columns(right, a - span - min_disp, b - min_disp)
    disp = np.zeros(left.shape, np.float32)
    found = matcher.compute(left_p, right_p)[:, span:].astype(np.float32) / 16.0
    disp[:, a:b] = np.where(found > 0, found + min_disp, 0)   # OpenCV marks failures with -1
    return disp


def _columns(img, lo, hi):
    """img[:, lo:hi], with zero columns where that range leaves the image."""
    out = np.zeros((img.shape[0], hi - lo), img.dtype)
    x0, x1 = max(lo, 0), min(hi, img.shape[1])
    if x1 > x0:
        out[:, x0 - lo:x1 - lo] = img[:, x0:x1]
    return out


# The image size up to which a texture test on 7 px windows holds: `standard`'s depth maps. At
# full size (`high`) neighbouring pixels differ by blur more than by the object's texture: on the
# 130 x 16 MP rig render, windows grown with the image fused 1.73M points instead of 1.05M.
SHARP_PX = QUALITY["standard"]["dense_max_image_size"]
WEAK_CONTRAST, WIDE_WINDOWS, CLEAR_WINDOWS = 0.5, 3, 3   # textured(): weak contrast, where it counts


def texture_window(image_px, base=7):
    """The texture test's window for an image `image_px` on its longest side: `base` px up to
    SHARP_PX, and as much wider beyond it as the image is (odd, centred on its pixel), so that it
    spans the same share of the object at every quality."""
    return int(base * max(1.0, image_px / SHARP_PX)) | 1


def textured(gray, window, min_std, columns=None):
    """Pixels whose neighbourhood has enough contrast to be matched at all. SGBM smooths depth
    into blank background; these pixels alone keep theirs.

    `min_std` grey levels of local std anywhere, or WEAK_CONTRAST of it over areas WIDE_WINDOWS
    windows wide with no blank pixel within CLEAR_WINDOWS windows. Shaded walls hold that
    little contrast over large areas (DTU scan24's courtyard: 1-2 grey levels); in a dark
    background, noise reaches it only in specks, and beside a silhouette it is the edge's blur,
    where SGBM would smear the object's depth outwards.

    columns: (first, end) of the photo on a wider canvas (disparities exist nowhere else). Only
    they and the blank within reach beside them are tested, with the same result: the round
    kernels cost by the pixel, and most of a full-size canvas is blank room for the disparity.
    """
    mask = np.zeros(gray.shape, bool)
    lo, hi = 0, gray.shape[1]
    if columns is not None:   # beyond `reach` blank pixels no longer change the blur, opening or erosion
        reach = window * (1 + max(WIDE_WINDOWS, CLEAR_WINDOWS))
        lo, hi = max(columns[0] - reach, 0), min(columns[1] + reach, hi)
    img = gray[:, lo:hi].astype(np.float32)
    mean = cv2.blur(img, (window, window))
    var = cv2.blur(img * img, (window, window)) - mean * mean
    contrast = (var > min_std ** 2).astype(np.uint8)
    weak = (var > (WEAK_CONTRAST * min_std) ** 2).astype(np.uint8)
    wide = cv2.morphologyEx(weak, cv2.MORPH_OPEN, _disc(WIDE_WINDOWS * window))
    clear = cv2.erode(contrast | wide, _disc(CLEAR_WINDOWS * window))
    # erode a little: SGBM blocks straddling a silhouette otherwise smear
    # foreground depth onto the background ("fattening")
    strong = cv2.erode(contrast, np.ones((window, window), np.uint8))
    mask[:, lo:hi] = (strong | (wide & clear)) > 0
    return mask


def _disc(diameter):
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter | 1, diameter | 1))


def _to_reference(z_rect, k_ref, r1, k_rect, size):
    """Resample a rectified-frame depth map onto the reference image grid.

    A reference pixel p lies at H p in the rectified image (H = K_rect R1 K^-1);
    its depth along the reference axis is z_rect / (R1 K^-1 p)_z.
    """
    w, h = size
    k_inv = np.linalg.inv(k_ref)
    homography = k_rect @ r1 @ k_inv
    warped = cv2.warpPerspective(
        z_rect, homography, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    )
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays_z = (r1 @ k_inv)[2]
    scale = rays_z[0] * xs + rays_z[1] * ys + rays_z[2]
    return (warped / scale).astype(np.float32)


def combine(depths, max_rel_diff=0.01):
    """One depth map from several partners: where two or more see a pixel they must
    agree (median of the agreeing ones, else a hole); a pixel only one partner saw
    keeps that depth, since stereo_fusion's multi-view check follows anyway.
    On wide-baseline rig scans (27 deg partners) requiring agreement everywhere
    left 1.3k fused points instead of a surface.
    """
    stack = np.stack(depths)
    if len(depths) == 1:
        return stack[0]
    valid = stack > 0
    count = valid.sum(axis=0)
    # Median of the valid depths: sort with holes last, take the middle valid one
    # (np.nanmedian took 7 of templeRing's 25 dense seconds).
    ordered = np.sort(np.where(valid, stack, np.inf), axis=0)
    middle = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    ref = np.where(count > 0, middle, 0)
    close = valid & (np.abs(stack - ref) <= max_rel_diff * ref)
    agreeing = close.sum(axis=0)
    mean = np.where(close, stack, 0).sum(axis=0) / np.maximum(agreeing, 1)
    out = np.where(agreeing >= 2, mean, 0)
    single = count == 1
    out[single] = stack.max(axis=0)[single]
    return out.astype(np.float32)


def normals_from_depth(depth, k):
    """Camera-frame unit normals from depth gradients, facing the camera (0 where unknown)."""
    k = opencv_k(k)
    h, w = depth.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # Depth noise over a few pixels is comparable to the pixel footprint, so raw
    # gradients give normals off by tens of degrees: smooth (ignoring holes) first.
    valid_f = (depth > 0).astype(np.float32)
    weight = cv2.GaussianBlur(valid_f, (0, 0), 3.0)
    smooth = cv2.GaussianBlur(depth.astype(np.float32), (0, 0), 3.0) / np.maximum(weight, 1e-6)
    pts = np.stack([(xs - k[0, 2]) / k[0, 0] * smooth, (ys - k[1, 2]) / k[1, 1] * smooth, smooth], -1).astype(np.float32)
    dx = cv2.Sobel(pts, cv2.CV_32F, 1, 0, ksize=5)
    dy = cv2.Sobel(pts, cv2.CV_32F, 0, 1, ksize=5)
    n = np.cross(dx, dy)
    n /= np.linalg.norm(n, axis=-1, keepdims=True) + 1e-12
    n *= -np.sign((n * pts).sum(-1, keepdims=True) + 1e-12)   # point towards the camera
    # Invalid where any 5x5 neighbour lacks depth: gradients there are garbage.
    valid = cv2.erode((depth > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    n[~valid] = 0
    return n.astype(np.float32), np.where(valid, depth, 0).astype(np.float32)
