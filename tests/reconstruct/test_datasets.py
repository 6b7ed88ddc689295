"""Real photo sets with ground-truth cameras (skipped when ../shared/datasets is absent)."""
import zipfile

import numpy as np
import pytest

from cloud_backend.reconstruct import evaluate

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def zip_images(folder, target):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted((folder / "images").iterdir()):
            archive.write(path, path.name)
    return target


def test_templering_registers_every_image_with_sub_degree_rotation_error(tmp_path, dataset, run_until_sfm):
    folder = dataset("middlebury_templeRing")
    _, rec = run_until_sfm(zip_images(folder, tmp_path / "temple.zip"), tmp_path / "work", {})
    assert rec.num_reg_images() == 47
    rot_err, _ = evaluate.pose_errors(rec, evaluate.read_krt(folder / "templeR_par.txt"))
    assert len(rot_err) == 47
    assert np.median(rot_err) < 1.0
