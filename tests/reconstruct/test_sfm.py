"""Structure from motion without a manifest: all photos registered, model upright."""
import numpy as np
import pytest

from cloud_backend.reconstruct import features, ingest, options, sfm, synthetic
from cloud_backend.reconstruct.stage import mark_done

pytestmark = pytest.mark.slow


def test_without_manifest_the_model_is_upright_and_unitless(tmp_path):
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest=None)
    opts = options.resolve({"max_image_size": 480})
    mark_done(tmp_path, "ingest", ingest.main(tmp_path, opts, zip_file=buf))
    mark_done(tmp_path, "features", features.main(tmp_path, opts))
    stats = sfm.main(tmp_path, opts)
    assert stats["images_registered"] == 36
    assert stats["units"] == "arbitrary" and stats["pose_priors"] == 0
    rec = sfm.load(tmp_path)
    z = {rec.image(i).name: rec.image(i).projection_center()[2] for i in rec.reg_image_ids()}
    low = [z[n] for n, elev, *_ in cams if elev == 20.0]
    high = [z[n] for n, elev, *_ in cams if elev == 45.0]
    # upright: the 45-degree ring sits above the 20-degree ring, both above the object centre
    assert min(high) > max(low) > 0
    # the ring axis is +z: each ring's cameras share one height
    assert np.std(high) < 0.05 * (np.mean(high) - np.mean(low))


def test_nominal_intrinsics_keep_the_principal_point_and_a_rerun_starts_clean(tmp_path):
    """A rig's nominal K (sensor centre) is kept while SfM refines the focal length;
    re-running the stage, as a resumed job does after a kill, must not trip over
    the pose priors the killed run already wrote."""
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="nominal")
    opts = options.resolve({"max_image_size": 480})
    mark_done(tmp_path, "ingest", ingest.main(tmp_path, opts, zip_file=buf))
    mark_done(tmp_path, "features", features.main(tmp_path, opts))
    sfm.main(tmp_path, opts)
    stats = sfm.main(tmp_path, opts)
    assert stats["images_registered"] == 36 and stats["pose_priors"] == 36 and stats["units"] == "mm"
    camera = sfm.load(tmp_path).cameras[1]
    assert [camera.principal_point_x, camera.principal_point_y] == pytest.approx([240.0, 180.0], abs=1e-6)
    focal = camera.params[0]
    assert focal == pytest.approx(700.0 * 480 / 640, rel=0.01)
