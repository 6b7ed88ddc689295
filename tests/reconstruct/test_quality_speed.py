"""`preview` is the quick look: the same scan costs clearly less than at `standard`.

On this small test scan (36 x 480x360, already below every level's feature cap) the levels
differ only after SfM; bench/quality_levels.py measures the 3x on photos of a useful size
(36 x 1280x960: 4.0x).
"""
import io
import json
import zipfile

import pytest

from cloud_backend.reconstruct import pipeline

pytestmark = pytest.mark.slow


def test_preview_costs_less_than_standard_and_both_are_printable(synthetic_scan, tmp_path):
    cpu = {}
    for quality in ("preview", "standard"):
        result = pipeline.run(io.BytesIO(synthetic_scan[0]), tmp_path / quality, {"quality": quality})
        report = json.loads(zipfile.ZipFile(result).read("report.json"))
        # CPU seconds of every stage's process (ingest runs in this one: its wall time), which
        # compare on a shared machine where wall time depends on the neighbours
        markers = [json.loads(m.read_text()) for m in (tmp_path / quality).glob("*.done.json")]
        cpu[quality] = sum(m.get("cpu_seconds", m["seconds"]) for m in markers)
        assert report["print"]["watertight"] is True and report["mesh_faces"] <= (50_000 if quality == "preview" else 200_000)
    # measured 1.7x here (29 vs 50 CPU-s; 2.0x before Poisson stopped at ~4x the face budget)
    assert cpu["standard"] >= 1.4 * cpu["preview"], cpu
