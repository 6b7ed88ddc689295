"""Real photo sets with ground-truth cameras (skipped when ../shared/datasets is absent)."""
import zipfile

import numpy as np
import pytest

from cloud_backend.reconstruct import evaluate, features, ingest, options, sfm
from cloud_backend.reconstruct.stage import mark_done

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def zip_images(folder, target):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted((folder / "images").iterdir()):
            archive.write(path, path.name)
    return target


def run_until_sfm(zip_path, work, opts):
    opts = options.resolve(opts)
    mark_done(work, "ingest", ingest.main(work, opts, zip_file=zip_path))
    mark_done(work, "features", features.main(work, opts))
    sfm.main(work, opts)
    return sfm.load(work)


def test_templering_registers_every_image_with_sub_degree_rotation_error(tmp_path, dataset):
    folder = dataset("middlebury_templeRing")
    rec = run_until_sfm(zip_images(folder, tmp_path / "temple.zip"), tmp_path / "work", {})
    assert rec.num_reg_images() == 47
    rot_err, _ = evaluate.pose_errors(rec, evaluate.read_krt(folder / "templeR_par.txt"))
    assert len(rot_err) == 47
    assert np.median(rot_err) < 1.0
