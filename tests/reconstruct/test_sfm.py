"""Structure from motion without a manifest: all photos registered, model upright."""
import json
import zipfile

import numpy as np
import pytest

from cloud_backend.reconstruct import options, sfm, synthetic
from cloud_backend.reconstruct.layout import Layout

pytestmark = pytest.mark.slow


def test_without_manifest_the_model_is_upright_and_unitless(tmp_path, run_until_sfm):
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest=None)
    stats, rec = run_until_sfm(buf, tmp_path, {"max_image_size": 480})
    assert stats["images_registered"] == 36
    assert stats["units"] == "arbitrary" and stats["pose_priors"] == 0
    z = {rec.image(i).name: rec.image(i).projection_center()[2] for i in rec.reg_image_ids()}
    low = [z[n] for n, elev, *_ in cams if elev == 20.0]
    high = [z[n] for n, elev, *_ in cams if elev == 45.0]
    # upright: the 45-degree ring sits above the 20-degree ring, both above the object centre
    assert min(high) > max(low) > 0
    # the ring axis is +z: each ring's cameras share one height
    assert np.std(high) < 0.05 * (np.mean(high) - np.mean(low))


def test_nominal_intrinsics_keep_the_principal_point_and_a_rerun_starts_clean(tmp_path, run_until_sfm):
    """A rig's nominal K (sensor centre) is kept while SfM refines the focal length;
    re-running the stage, as a resumed job does after a kill, must not trip over
    the pose priors the killed run already wrote."""
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="nominal")
    with zipfile.ZipFile(buf) as archive:
        camera_info = json.loads(archive.read("manifest.json"))["camera"]
    buf.seek(0)
    k = camera_info["nominal_K"]
    run_until_sfm(buf, tmp_path, {"max_image_size": 480})
    stats = sfm.run(Layout(tmp_path), options.resolve({"max_image_size": 480}))
    assert stats["images_registered"] == 36 and stats["pose_priors"] == 36 and stats["units"] == "mm"
    camera = sfm.load(Layout(tmp_path).sparse).cameras[1]
    assert [camera.width, camera.height] == camera_info["resolution"]   # K holds at this size
    # COLMAP puts pixel centres at +0.5, OpenCV's K at integers
    assert [camera.principal_point_x, camera.principal_point_y] == pytest.approx([k[0][2] + 0.5, k[1][2] + 0.5],
                                                                                abs=1e-6)
    focal = camera.params[0]
    assert focal == pytest.approx(k[0][0], rel=0.01)
