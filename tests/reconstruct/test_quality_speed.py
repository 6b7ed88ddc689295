"""`preview` is the quick look: end to end at least 3x faster than `standard` on the same scan."""
import io
import json
import zipfile

import pytest

from cloud_backend.reconstruct import pipeline, synthetic

pytestmark = pytest.mark.slow


@pytest.mark.skip(reason="not yet run: the 3x ratio on this scan is unmeasured (issue 16); unskip once measured")
def test_preview_is_at_least_three_times_faster_than_standard(tmp_path):
    # small photos: SIFT's upsampling (standard) and the depth-map size are what differ here
    buf, _ = synthetic.scan_zip(8, (20.0, 45.0), 640, 480, manifest="full")
    data = buf.getvalue()
    cpu = {}
    for quality in ("preview", "standard"):
        result = pipeline.run(io.BytesIO(data), tmp_path / quality, {"quality": quality, "num_threads": 1})
        report = json.loads(zipfile.ZipFile(result).read("report.json"))
        # CPU seconds of every stage's process (ingest runs in this one: its wall time), which
        # compare on a shared machine where wall time depends on the neighbours
        markers = [json.loads(m.read_text()) for m in (tmp_path / quality).glob("*.done.json")]
        cpu[quality] = sum(m.get("cpu_seconds", m["seconds"]) for m in markers)
        assert report["print"]["watertight"] is True
    assert cpu["standard"] >= 3 * cpu["preview"], cpu
