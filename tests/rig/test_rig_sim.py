"""The simulated rig: physics honest to the pins, renders that agree with the ground truth."""
import cv2
import numpy as np
import pytest

from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.geometry import camera_centre, camera_pose

BACKGROUND_MAX = 18  # 8-bit level: the back panel renders at 9 +- 2


@pytest.fixture
def rig(mini_profile, full_scene):
    r = build_simulated_rig(mini_profile, full_scene)
    yield r
    r.close()


def test_true_pose_comes_from_the_pulses_and_matches_the_manifest_formula(rig, mini_profile):
    D = mini_profile["geometry"]["camera_distance_mm"]
    for rotor, turntable in [(0, 0), (45, 120), (-15, 300), (70, 10)]:
        rig.move_to(rotor, turntable)
        sim = rig.sim
        assert sim["rotor"].angle == pytest.approx(rig.rotor.angle)
        R, t = rig.camera.true_pose()
        R2, t2 = camera_pose(*rig.angles, D)
        assert np.allclose(R, R2, atol=1e-12) and np.allclose(t, t2, atol=1e-9)
        assert np.allclose(-R.T @ t, camera_centre(*rig.angles, D), atol=1e-9)


def test_a_disabled_driver_ignores_pulses(rig):
    # pulses sent with the enable line high (disabled) must not turn the simulated motor
    before = rig.sim["turntable"].angle
    rig.turntable.step.on()
    rig.turntable.step.off()
    assert rig.sim["turntable"].angle == before and rig.sim["turntable"].missed_steps == 1


def test_render_shows_the_true_mesh_where_the_pose_projects_it(mini_profile, full_scene):
    # the stone alone, painted white: a pure geometry check of renderer vs. pose formula
    from openscan_plugin.hardware.sim.scene import Scene, Surface
    stone = full_scene.surface("object")
    white = Surface("object", stone.vertices, stone.triangles, lambda p, i, b: np.ones((len(p), 3)),
                    stone.vertex_normals)
    rig = build_simulated_rig(mini_profile, Scene([white], ground_truth="object"))
    rig.light.on()
    rig.move_to(30, 75)
    img = cv2.cvtColor(rig.camera._frame()[0], cv2.COLOR_RGB2GRAY)
    R, t = camera_pose(*rig.angles, mini_profile["geometry"]["camera_distance_mm"])
    uv, _ = cv2.projectPoints(stone.vertices, cv2.Rodrigues(R)[0], t, rig.camera.K, None)
    uv = np.round(uv.reshape(-1, 2)).astype(int)
    h, w = img.shape
    assert ((uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)).all()
    # silhouette pixels are lit at grazing angles (dark), so allow one pixel of rounding
    drawn = cv2.dilate((img > BACKGROUND_MAX).astype(np.uint8), np.ones((3, 3), np.uint8))
    assert drawn[uv[:, 1], uv[:, 0]].mean() > 0.999  # drawn where the pose says
    mask = np.zeros_like(img)
    mask[uv[:, 1], uv[:, 0]] = 255
    near = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    assert ((img > BACKGROUND_MAX) & (near == 0)).sum() < 50   # and nowhere else
    rig.close()


def test_texture_gives_sift_matches_from_every_side(rig):
    rig.light.on()
    sift = cv2.SIFT_create()
    grey = []
    for rotor, turntable in [(-15, 0), (-15, 8), (70, 180)]:
        rig.move_to(rotor, turntable)
        grey.append(cv2.cvtColor(rig.camera._frame()[0], cv2.COLOR_RGB2GRAY))
    feats = [sift.detectAndCompute(g, None) for g in grey]
    assert min(len(k) for k, _ in feats) > 1500  # low side view and top view alike
    (k1, d1), (k2, d2) = feats[0], feats[1]
    pairs = cv2.BFMatcher().knnMatch(d1, d2, k=2)
    good = [m for m, n in pairs if m.distance < 0.8 * n.distance]
    p1 = np.float32([k1[m.queryIdx].pt for m in good])
    p2 = np.float32([k2[m.trainIdx].pt for m in good])
    E, inl = cv2.findEssentialMat(p1, p2, rig.camera.K, cv2.RANSAC, 0.999, 1.0)
    assert int(inl.sum()) > 300  # geometrically consistent matches between 8-deg neighbours


def test_light_and_exposure_change_the_image(rig):
    from openscan_plugin.hardware.camera import CameraSettings
    rig.move_to(20, 0)
    rig.light.on()
    lit = rig.camera._frame()[0].mean()
    rig.camera.apply(CameraSettings(exposure_us=25000))
    half = rig.camera._frame()[0].mean()
    rig.light.off()
    dark = rig.camera._frame()[0].mean()
    assert dark < 0.5 * half < 0.6 * lit
