"""CPU depth maps are sized by the object, not the photo: a small object in a large frame keeps
its detail, and the maps cover the object only."""
import io
import zipfile

import cv2
import numpy as np
import pycolmap
import pytest

from cloud_backend.reconstruct import dense, options, synthetic
from cloud_backend.reconstruct.layout import Layout

pytestmark = pytest.mark.slow
PAD = 480   # black border around each 480x360 photo: the object in a 1440x1320 frame


@pytest.fixture(scope="module")
def small_object(tmp_path_factory, run_until_sfm):
    """A rendered 36-photo scan with the object (and its plate) in the middle third of a
    large dark frame, as on a rig with a small object, up to SfM."""
    rendered, _ = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest=None)
    framed = io.BytesIO()
    with zipfile.ZipFile(rendered) as src, zipfile.ZipFile(framed, "w") as dst:
        for name in src.namelist():
            photo = cv2.imdecode(np.frombuffer(src.read(name), np.uint8), cv2.IMREAD_COLOR)
            big = cv2.copyMakeBorder(photo, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=(9, 9, 10))
            dst.writestr(name, cv2.imencode(".png", big)[1].tobytes())
    framed.seek(0)
    work = tmp_path_factory.mktemp("dense")
    stats, rec = run_until_sfm(framed, work, {"max_image_size": 1440})
    assert stats["images_registered"] == 36
    return work, rec


def depth_map_views(work):
    """(width, height, focal) of each view's depth map, checking each map fills its view."""
    rec = pycolmap.Reconstruction(Layout(work).dense / "sparse")
    views = []
    for i in rec.reg_image_ids():
        image = rec.image(i)
        depth = pycolmap.DepthMap()
        depth.read(Layout(work).dense / "stereo" / "depth_maps" / f"{image.name}.geometric.bin")
        assert depth.to_array().shape == (image.camera.height, image.camera.width)
        views.append((image.camera.width, image.camera.height, image.camera.params[0]))
    return np.array(views)


def test_a_small_object_in_a_large_frame_is_matched_at_the_photos_own_resolution(small_object):
    work, rec = small_object
    stats = dense.run(Layout(work), options.resolve({"dense_max_image_size": 1000}))
    views = depth_map_views(work)
    photo_focal = rec.cameras[1].params[0]
    assert np.allclose(views[:, 2], photo_focal, rtol=0.01)          # not scaled down
    assert np.all(views[:, :2].max(axis=1) < 0.5 * (480 + 2 * PAD))   # maps cover the object, not the frame
    assert stats["fused_points"] > 20_000


def test_the_depth_map_size_caps_the_object_not_the_photo(small_object):
    work, rec = small_object
    stats = dense.run(Layout(work), options.resolve({"dense_max_image_size": 300}))
    sides = depth_map_views(work)[:, :2].max(axis=1)
    assert 240 <= np.median(sides) <= 360     # the object's crop at ~300 px
    assert stats["fused_points"] > 5_000


def test_each_view_is_the_crop_of_colmaps_undistorted_photo(small_object, tmp_path):
    work, rec = small_object
    reference = tmp_path / "colmap"
    pycolmap.undistort_images(reference, Layout(work).sparse, Layout(work).images)   # whole photos
    undistort = pycolmap.UndistortCameraOptions()
    views, _ = dense.undistort_views(rec, Layout(work).images, None, tmp_path / "ours", undistort, True, 2)
    full = pycolmap.Reconstruction(reference / "sparse")
    for i in views.reg_image_ids():
        view, whole = views.image(i), full.image(i)
        x0, y0 = (int(round(a - b)) for a, b in zip(whole.camera.params[2:4], view.camera.params[2:4]))
        assert view.camera.params[0] == pytest.approx(whole.camera.params[0])
        ours = cv2.imread(str(tmp_path / "ours" / "images" / view.name)).astype(np.float32)
        theirs = cv2.imread(str(reference / "images" / view.name)).astype(np.float32)
        theirs = theirs[y0:y0 + view.camera.height, x0:x0 + view.camera.width]
        assert ours.shape == theirs.shape and ours.shape[1] < 0.5 * whole.camera.width   # the object's crop
        assert np.abs(ours - theirs).mean() < 0.1   # grey levels: the same pixels
        shifted = np.abs(ours[:, 1:] - theirs[:, :-1]).mean()
        assert shifted > 2 * np.abs(ours - theirs).mean()   # and a pixel off is visibly worse
