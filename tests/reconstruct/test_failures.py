"""Failures reach the user as a sentence, through the stage's own process."""
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from cloud_backend.reconstruct import pipeline
from cloud_backend.reconstruct.errors import ReconstructionError
from cloud_backend.reconstruct.stage import is_done


def noise_zip(count):
    """Photos that share nothing: no model can be built from them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(count):
            img = Image.fromarray(np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8))
            data = io.BytesIO()
            img.save(data, "JPEG")
            archive.writestr(f"img_{i}.jpg", data.getvalue())
    buf.seek(0)
    return buf


@pytest.mark.slow
def test_unrelated_photos_fail_with_an_explanation(tmp_path):
    with pytest.raises(ReconstructionError, match=r"no 3D model could be started|could be registered"):
        pipeline.run(noise_zip(6), tmp_path, {"max_image_size": 320})
    assert is_done(tmp_path, "features") and not is_done(tmp_path, "sfm")
    assert not (tmp_path / "result.zip").exists()
