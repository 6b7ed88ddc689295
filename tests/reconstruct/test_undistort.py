"""OpenCV's undistortion maps are COLMAP's camera models, pixel centres included."""
import numpy as np
import pycolmap
import pytest

from cloud_backend.reconstruct.dense import source_pixels

CAMERAS = {
    "SIMPLE_RADIAL": [1500, 800, 600, -0.08],
    "RADIAL": [1500, 800, 600, -0.08, 0.02],
    "OPENCV": [1500, 1510, 800, 600, -0.08, 0.02, 0.001, -0.002],
    "FULL_OPENCV": [1500, 1510, 800, 600, -0.08, 0.02, 0.001, -0.002, 0.004, 0.01, -0.01, 0.003],
}


@pytest.mark.parametrize("model", CAMERAS)
def test_opencv_maps_land_where_colmaps_model_puts_each_pixel(model):
    camera = pycolmap.Camera(model=model, width=1600, height=1200, params=CAMERAS[model], camera_id=1)
    options = pycolmap.UndistortCameraOptions()
    options.max_image_size = 1000   # a smaller undistorted view, as `standard` asks for
    pinhole = pycolmap.undistort_camera(options, camera)
    box = (100, 50, pinhole.width - 30, pinhole.height - 70)
    map_x, map_y = source_pixels(camera, pinhole, box)
    xs, ys = np.meshgrid(np.arange(box[0], box[2]) + 0.5, np.arange(box[1], box[3]) + 0.5)
    rays = pinhole.cam_from_img(np.c_[xs.ravel(), ys.ravel()])
    expected = camera.img_from_cam(np.c_[rays, np.ones(len(rays))]) - 0.5   # to OpenCV's centres
    assert map_x.shape == (box[3] - box[1], box[2] - box[0])
    assert np.abs(map_x.ravel() - expected[:, 0]).max() < 0.01
    assert np.abs(map_y.ravel() - expected[:, 1]).max() < 0.01
    assert np.abs(map_x.ravel() - (xs.ravel() - 0.5)).max() > 5   # the distortion moved them


def test_a_model_opencv_lacks_is_mapped_by_pycolmap_to_the_same_pixels(monkeypatch):
    from cloud_backend.reconstruct import dense

    camera = pycolmap.Camera(model="OPENCV", width=1600, height=1200, params=CAMERAS["OPENCV"], camera_id=1)
    pinhole = pycolmap.undistort_camera(pycolmap.UndistortCameraOptions(), camera)
    box = (200, 100, 900, 700)
    by_opencv = source_pixels(camera, pinhole, box)
    monkeypatch.setattr(dense, "OPENCV_DISTORTION", {})   # as for a model outside the table
    by_pycolmap = source_pixels(camera, pinhole, box)
    for ours, theirs in zip(by_pycolmap, by_opencv):
        assert ours.dtype == np.float32 and ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() < 0.01
