"""CPU stereo: depth from a rectified pair must match the true depth of a rendered scene."""
import numpy as np
import pytest

from cloud_backend.reconstruct import raster, stereo_cpu, synthetic


def render_depth(cam, width, height, focal, with_plate):
    _, _, _, rot, t = cam
    obj_v, obj_f = synthetic.object_mesh()
    verts, faces = obj_v, obj_f
    if with_plate:
        plate_v, plate_f = synthetic.plate_mesh()
        verts, faces = np.vstack([obj_v, plate_v]), np.vstack([obj_f, plate_f + len(obj_v)])
    ys, xs = np.mgrid[0:height, 0:width]
    dirs = np.column_stack([(xs.ravel() + 0.5 - width / 2) / focal, (ys.ravel() + 0.5 - height / 2) / focal,
                            np.ones(xs.size)])
    centre = -rot.T @ t
    t_hit, _, _ = raster.cast(raster.scene_of(verts, faces), np.broadcast_to(centre, dirs.shape), dirs @ rot)
    return t_hit.reshape(height, width)


RING = synthetic.ring_cameras(24, (20.0,))
PARTNERS = {"right": RING[1], "left": RING[23], "above": synthetic.ring_cameras(24, (32.0,))[0]}


@pytest.mark.parametrize("partner", sorted(PARTNERS))
def test_pair_depth_matches_rendered_truth(partner):
    import cv2

    width, height, focal = 320, 240, 350.0
    ref, src = RING[0], PARTNERS[partner]
    images, _ = synthetic.render([ref, src], width, height, focal)
    gray = [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in images]
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    rel_r = src[3] @ ref[3].T
    rel_t = src[4] - rel_r @ ref[4]
    depth = stereo_cpu.pair_depth(gray[0], gray[1], k, k, rel_r, rel_t, (150.0, 400.0))
    scene = render_depth(ref, width, height, focal, with_plate=True)
    obj = render_depth(ref, width, height, focal, with_plate=False)
    on_object = np.isfinite(obj) & (np.abs(obj - scene) < 1e-3)   # object pixels not hidden by the plate
    valid = (depth > 0) & on_object
    assert valid.sum() > 0.8 * on_object.sum()
    rel_err = np.abs(depth[valid] - obj[valid]) / obj[valid]
    assert np.median(rel_err) < 0.005
    assert (depth[~np.isfinite(scene)] > 0).mean() < 0.02   # black background stays empty


def test_normals_of_a_tilted_plane_are_exact_and_face_the_camera():
    k = np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]])
    ys, xs = np.mgrid[0:240, 0:320].astype(np.float32)
    # plane z = 2 + 0.5 x (camera frame)  ->  depth d with d = 2 + 0.5 * (xs - cx)/f * d
    depth = (2.0 / (1 - 0.5 * (xs - 160) / 300.0)).astype(np.float32)
    normals, kept = stereo_cpu.normals_from_depth(depth, k)
    expected = np.array([0.5, 0.0, -1.0]) / np.linalg.norm([0.5, 0.0, -1.0])
    centre = normals[100:140, 140:180].reshape(-1, 3)
    assert np.allclose(centre, expected, atol=0.01)
    assert (kept[100:140, 140:180] > 0).all()


def test_partners_disagreeing_leave_a_hole_but_a_lone_view_is_kept():
    a = np.full((4, 4), 1.0, np.float32)
    b = a.copy()
    b[0, 0] = 1.5      # the two partners disagree here
    b[3, 3] = 0.0      # only partner a saw this pixel
    out = stereo_cpu.combine([a, b])
    assert out[0, 0] == 0 and out[1, 1] == pytest.approx(1.0) and out[3, 3] == pytest.approx(1.0)


def test_roi_limits_depth_to_the_object_region():
    import cv2

    width, height, focal = 320, 240, 350.0
    ref, src = RING[0], PARTNERS["right"]
    images, _ = synthetic.render([ref, src], width, height, focal)
    gray = [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in images]
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    rel_r = src[3] @ ref[3].T
    rel_t = src[4] - rel_r @ ref[4]
    roi = (100, 20, 220, 200)
    depth = stereo_cpu.pair_depth(gray[0], gray[1], k, k, rel_r, rel_t, (150.0, 400.0), roi)
    full = stereo_cpu.pair_depth(gray[0], gray[1], k, k, rel_r, rel_t, (150.0, 400.0))
    outside = np.ones_like(depth, bool)
    outside[25:195, 105:215] = False
    inner = ~outside & (depth > 0) & (full > 0)
    assert (depth[:, :95] == 0).all() and (depth[:, 225:] == 0).all()
    assert inner.sum() > 0.5 * (~outside & (full > 0)).sum()
    assert np.median(np.abs(depth[inner] - full[inner]) / full[inner]) < 0.002


def test_a_view_larger_than_its_detail_keeps_its_depth(monkeypatch):
    """A 16 MP photo holds less detail than pixels: the texture test must judge it at the
    scale of its detail, or it calls most of the object blank."""
    import cv2

    width, height, focal, up = 320, 240, 350.0, 4
    ref, src = RING[0], PARTNERS["right"]
    images, _ = synthetic.render([ref, src], width, height, focal)
    # the same view at 4x the size, holding the detail of the 320 px render
    gray = [cv2.resize(cv2.cvtColor(i, cv2.COLOR_RGB2GRAY), None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
            for i in images]
    monkeypatch.setattr(stereo_cpu, "SHARP_PX", width)
    k = np.array([[focal * up, 0, width * up / 2], [0, focal * up, height * up / 2], [0, 0, 1]])
    rel_r = src[3] @ ref[3].T
    depth = stereo_cpu.pair_depth(gray[0], gray[1], k, k, rel_r, src[4] - rel_r @ ref[4], (150.0, 400.0))
    depth = cv2.resize(depth, (width, height), interpolation=cv2.INTER_NEAREST)
    scene = render_depth(ref, width, height, focal, with_plate=True)
    obj = render_depth(ref, width, height, focal, with_plate=False)
    on_object = np.isfinite(obj) & (np.abs(obj - scene) < 1e-3)
    valid = (depth > 0) & on_object
    assert valid.sum() > 0.55 * on_object.sum()   # 7 px windows: 0.28
    assert np.median(np.abs(depth[valid] - obj[valid]) / obj[valid]) < 0.005
    assert (depth[~np.isfinite(scene)] > 0).mean() < 0.02   # black background stays empty


def test_matching_only_the_photos_columns_of_the_canvas_gives_the_same_disparities():
    # a rectified canvas holds the photo plus room for the disparity on both sides; matching
    # the photo's columns alone must not change its depth, only the work
    from cloud_backend.reconstruct.options import DEFAULTS

    rng = np.random.default_rng(0)
    texture = (rng.random((120, 400)) * 255).astype(np.uint8)
    left, right = np.zeros((120, 700), np.uint8), np.zeros((120, 700), np.uint8)
    left[:, 150:550] = texture                                 # the photo, 150 px of margin each side
    right[:, 110:510] = texture                                # its match 40 px to the left
    whole = stereo_cpu._sgbm(left, right, 30, 50, 300, DEFAULTS, (0, 700))
    photo = stereo_cpu._sgbm(left, right, 30, 50, 300, DEFAULTS, (150, 550))
    assert np.median(photo[:, 200:500]) == pytest.approx(40, abs=0.1)
    inner = slice(150 + DEFAULTS["sgbm_block_size"], 550 - DEFAULTS["sgbm_block_size"])   # SGBM's blocks reach past the photo's edge
    assert np.array_equal(photo[:, inner], whole[:, inner]) and not photo[:, :150].any()


def test_a_shaded_wall_keeps_its_depth_but_background_noise_and_silhouette_blur_do_not():
    """Weak contrast (1.5 grey levels) counts where it covers a wide area away from blank
    background: a wall in shade inside the object, not noise specks in the dark background nor
    a blurred band beside the silhouette."""
    rng = np.random.default_rng(0)
    img = np.zeros((240, 300), np.float32)
    img[40:200, 40:200] = 100 + rng.normal(0, 20, (160, 160))    # the object, well textured
    img[80:160, 80:160] = 60 + rng.normal(0, 1.5, (80, 80))      # a shaded wall on it
    img[40:200, 200:240] = 10 + rng.normal(0, 1.5, (160, 40))    # blur beside its silhouette
    for y in range(10, 230, 30):                                 # noise specks in the background
        img[y:y + 4, 270:274] = 5 + rng.normal(0, 1.5, (4, 4))
    mask = stereo_cpu.textured(np.clip(np.round(img), 0, 255).astype(np.uint8), 7, 2.0)
    assert mask[60:180, 60:180].mean() > 0.9                     # the object with its shaded wall
    assert not mask[40:200, 235:].any()                          # the band next to the blank, the specks
    assert not mask[:, :35].any() and not mask[205:].any()       # the blank background


def test_the_texture_test_of_a_canvas_is_that_of_its_photo_columns_alone():
    """Told the photo's columns (the rest of the canvas is blank room for the disparity), the
    texture test marks exactly the pixels it marks on the whole canvas."""
    rng = np.random.default_rng(1)
    canvas = np.zeros((200, 1200), np.uint8)
    photo = rng.integers(0, 256, (200, 400)).astype(np.float32)
    photo[:, :60] = 40 + rng.normal(0, 1.5, (200, 60))       # shaded up to its edge: the blank beside decides
    photo[:, 150:300] = 40 + rng.normal(0, 1.5, (200, 150))   # a shaded part
    photo[:, 330:] = 0                                          # black background up to its edge
    canvas[:, 500:900] = np.clip(np.round(photo), 0, 255)
    whole = stereo_cpu.textured(canvas, 23, 2.0)
    mask = stereo_cpu.textured(canvas, 23, 2.0, columns=(500, 900))
    assert mask[:, 500:830].mean() > 0.5
    assert np.array_equal(mask, whole)
