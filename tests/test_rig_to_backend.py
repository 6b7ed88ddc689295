"""The two halves together: a simulated 60-point scan from `openscan scan --simulate` is
registered completely by the backend's reconstruction, metric and in the turntable frame."""
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_backend_registers_every_photo_of_a_simulated_scan(tmp_path):
    import cv2  # noqa: F401  (before pycolmap)
    from cloud_backend.reconstruct import features, ingest, options, sfm
    from cloud_backend.reconstruct.layout import Layout
    from cloud_backend.reconstruct.stage import mark_done

    scan = tmp_path / "scan"
    subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "scan", "--simulate", "--profile",
                    "mini", "--points", "60", "--out", str(scan)], check=True, capture_output=True)
    photos = sorted(scan.glob("*.jpg"))
    assert len(photos) == 60
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as zf:  # what the rig sends: photos + manifest, flat
        for path in [*photos, scan / "manifest.json"]:
            zf.write(path, path.name)

    work, opts = tmp_path / "work", options.resolve({"quality": "preview", "max_image_size": 960})
    mark_done(work, "ingest", ingest.main(work, opts, zip_file=upload))
    mark_done(work, "features", features.run(Layout(work), opts))
    stats = sfm.run(Layout(work), opts)  # the stages up to registration, as the pipeline runs them
    assert stats["images_registered"] == 60 and stats["units"] == "mm"

    truth = json.loads((scan / "ground_truth" / "cameras.json").read_text())["photos"]
    model = sfm.load(Layout(work).sparse)
    errors = [np.linalg.norm(image.projection_center() - np.array(truth[image.name]["centre"]))
              for image in model.images.values()]
    distance = np.linalg.norm(truth[photos[0].name]["centre"])
    # No alignment to the truth: the manifest alone must place the cameras, to within 1% of D.
    assert np.median(errors) < 0.01 * distance, (np.median(errors), distance)
