"""Registration by content: capture order, wrong rig angles and foreign photos do not matter."""
import io
import json
import zipfile

import cv2
import numpy as np
import pytest

from cloud_backend.reconstruct import pipeline, synthetic

pytestmark = pytest.mark.slow


def rezip(buf, rename=None, edit_manifest=None, extra=()):
    """A copy of a scan zip with photos renamed, the manifest edited, and extra photos added."""
    rename = rename or {}
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for entry in src.infolist():
            data = src.read(entry)
            if entry.filename == "manifest.json" and edit_manifest:
                manifest = json.loads(data)
                edit_manifest(manifest)
                data = json.dumps(manifest).encode()
            dst.writestr(rename.get(entry.filename, entry.filename), data)
        for name, data in extra:
            dst.writestr(name, data)
    out.seek(0)
    return out


# "retrieval": the view graph scores only each photo's bag-of-words candidates, as for sets above
# graph_all_pairs_max_images (a hundred photos; too slow to render here)
@pytest.mark.parametrize("graph", ["all pairs", "retrieval"])
def test_a_set_in_shuffled_order_registers_fully(tmp_path, run_until_sfm, graph):
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest=None)
    order = np.random.default_rng(1).permutation(len(cams))
    # camera-style names whose sorted order has nothing to do with where the photos were taken
    shuffled = rezip(buf, rename={cams[k][0]: f"IMG_{n:04d}.png" for n, k in enumerate(order)})
    options = {"max_image_size": 480}
    if graph == "retrieval":
        options.update(graph_all_pairs_max_images=0, graph_candidates=8)
    stats, rec = run_until_sfm(shuffled, tmp_path, options)
    assert stats["images_registered"] == 36 and stats["images_unregistered"] == []
    assert stats["models"] == 1


def test_a_photo_whose_rig_angles_are_wrong_still_registers_where_it_was(tmp_path, run_until_sfm):
    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="full")
    slipped = cams[5][0]

    def slip(manifest):   # the turntable slipped: the rig believes the photo was taken 150 degrees on
        for photo in manifest["photos"]:
            if photo["file"] == slipped:
                photo["turntable_deg"] += 150.0

    stats, rec = run_until_sfm(rezip(buf, edit_manifest=slip), tmp_path, {"max_image_size": 480})
    assert stats["images_registered"] == 36 and stats["units"] == "mm"
    image = next(rec.image(i) for i in rec.reg_image_ids() if rec.image(i).name == slipped)
    _, _, _, rot, t = cams[5]
    true_centre = -rot.T @ t
    # where the photo really was (mm, turntable frame), not where the manifest says
    assert np.linalg.norm(image.projection_center() - true_centre) < 5.0


def foreign_photo(seed, width=480, height=360):
    """A photo of something else: smooth random colour blotches, nothing in common with the scan."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (height // 8, width // 8, 3)).astype(np.uint8)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".png", img)[1].tobytes()


def test_a_third_of_foreign_photos_leaves_a_model_of_the_rest_with_reasons(tmp_path, fast_options):
    buf, cams = synthetic.scan_zip(16, (20.0, 45.0), 480, 360, manifest=None)
    foreign = [(f"other_{k:02d}.png", foreign_photo(k)) for k in range(16)]
    result = pipeline.run(rezip(buf, extra=foreign), tmp_path, dict(fast_options, max_image_size=480))
    with zipfile.ZipFile(result) as archive:
        report = json.loads(archive.read("report.json"))
        assert "model.obj" in archive.namelist()
    assert report["images_given"] == 48 and report["images_registered"] == 32
    left_out = {entry["name"]: entry["reason"] for entry in report["images_unregistered"]}
    assert set(left_out) == {name for name, _ in foreign}
    assert all("match" in reason for reason in left_out.values())
