"""Ingest: what a user uploads becomes clean, oriented images plus a list of what was skipped."""
import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from cloud_backend.reconstruct import ingest, options
from cloud_backend.reconstruct.errors import ReconstructionError
from cloud_backend.reconstruct.layout import Layout


def photo(seed, size=(64, 48), exif_orientation=None, fmt="JPEG"):
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    buf = io.BytesIO()
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        img.save(buf, fmt, exif=exif)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def upload(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    buf.seek(0)
    return buf


def run(tmp_path, files):
    ingest.main(tmp_path, options.resolve(), zip_file=upload(files))
    return ingest.read(Layout(tmp_path).ingest)


def test_exif_rotated_photo_is_stored_upright(tmp_path):
    info = run(tmp_path, {"a.jpg": photo(1, exif_orientation=6), "b.jpg": photo(2), "c.jpg": photo(3)})
    with Image.open(tmp_path / "images" / "a.jpg") as img:
        assert img.size == (48, 64)   # orientation 6 = rotated 90 degrees
    with Image.open(tmp_path / "images" / "b.jpg") as img:
        assert img.size == (64, 48)
    assert info["images"] == ["a.jpg", "b.jpg", "c.jpg"]


def undecodable(seed):
    """A JPEG whose structure is whole (header, image data, end marker) but whose Huffman
    table is garbage: it passes the zip check and fails only when decoded."""
    data = bytearray(photo(seed))
    at = data.index(b"\xff\xc4")
    data[at + 5:at + 21] = b"\xff" * 16
    return bytes(data)


def test_duplicates_and_undecodable_photos_are_skipped_with_reasons(tmp_path):
    same = photo(1)
    info = run(tmp_path, {
        "a.jpg": same, "copy.jpg": same, "b.png": photo(2, fmt="PNG"), "c.jpg": photo(3),
        "broken.jpg": undecodable(4),
    })
    assert info["images"] == ["a.jpg", "b.png", "c.jpg"]
    reasons = {s["name"]: s["reason"] for s in info["skipped"]}
    assert reasons["copy.jpg"] == "duplicate of a.jpg"
    assert reasons["broken.jpg"].startswith("unreadable image")
    assert info["images_given"] == 5


@pytest.mark.parametrize("name, data, message", [
    ("__MACOSX/._a.jpg", b"junk", "flat at the root"),
    ("notes.txt", b"hello", "not 'notes.txt'"),
    ("../d.jpg", photo(4), "unsafe path"),
    ("cut.jpg", photo(4)[:-100], "truncated"),
])
def test_ingest_refuses_what_the_upload_check_refuses(tmp_path, name, data, message):
    """One set of entry rules (archive.Upload) for startProject, the job's check and ingest."""
    with pytest.raises(ReconstructionError, match=message):
        run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3), name: data})


def test_photo_with_a_trailer_after_its_end_marker_is_used_without_it(tmp_path):
    """Phone motion photos and maker notes put data after the JPEG end marker."""
    trailer = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 16  # 4 KiB, like an MP4 box
    info = run(tmp_path, {"a.jpg": photo(1) + trailer, "b.jpg": photo(2), "c.jpg": photo(3)})
    assert info["images"] == ["a.jpg", "b.jpg", "c.jpg"]
    assert (tmp_path / "images" / "a.jpg").read_bytes() == photo(1)


def test_masks_follow_their_photo(tmp_path):
    mask = photo(9, fmt="PNG")
    info = run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3),
                          "masks/a.jpg.png": mask, "masks/b.png": mask})
    assert info["masks"] == 2
    assert sorted(p.name for p in (tmp_path / "masks").iterdir()) == ["a.jpg.png", "b.jpg.png"]


def rig_manifest(**changes):
    """The fields of the rig's schema (openscan-manifest v1) that reconstruction reads."""
    data = {
        "schema": "openscan-manifest", "schema_version": 1, "status": "complete",
        "geometry": {"frame": "turntable", "units": "mm", "angle_convention": "openscan-v1",
                     "camera_distance_mm": 200.0, "turntable_surface_z_mm": -12.0},
        "camera": {"resolution": [64, 48], "nominal_K": [[55, 0, 31.5], [0, 55, 23.5], [0, 0, 1]]},
        "intrinsics": {"K": [[100, 0, 63.5], [0, 102, 47.5], [0, 0, 1]], "dist": [0.1, 0, 0, 0, 0],
                       "image_size": [128, 96]},
        "photos": [{"file": "a.jpg", "index": 0, "stack": 0, "rotor_deg": 30.0, "turntable_deg": 90.0}],
        "plan": {"points": [[30, 90]]}, "some_future_key": {"x": 1},
    }
    data.update(changes)
    return json.dumps(data)


def test_rig_manifest_angles_geometry_and_calibration_are_read(tmp_path):
    info = run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3), "manifest.json": rig_manifest()})
    m = info["manifest"]
    assert info["manifest_note"] == "used"
    # calibrated at 128x96, scan at 64x48: K scales by 0.5; COLMAP's principal point is +0.5 px
    assert m.intrinsics.model == "OPENCV"
    assert m.intrinsics.params[:4] == pytest.approx([50, 51, 32, 24])
    assert m.plate_z_mm == -12.0
    centre = m.camera_centre_mm("a.jpg")
    assert np.linalg.norm(centre) == pytest.approx(200)
    assert centre[2] == pytest.approx(100)                          # 30 degrees up
    assert centre[1] == pytest.approx(-np.sqrt(200**2 - 100**2))    # table turned +90: camera at -90


def test_uncalibrated_rig_gives_only_a_nominal_guess(tmp_path):
    info = run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3),
                          "manifest.json": rig_manifest(intrinsics=None)})
    m = info["manifest"]
    assert m.intrinsics is None
    assert m.nominal.model == "PINHOLE" and m.nominal.params == pytest.approx([55, 55, 32, 24])


def test_future_manifest_schema_is_not_misread(tmp_path):
    info = run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3),
                          "manifest.json": rig_manifest(schema_version=2)})
    assert info["manifest"] is None


def test_broken_manifest_is_ignored_not_fatal(tmp_path):
    info = run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3), "manifest.json": "{not json"})
    assert info["manifest"] is None and "not valid JSON" in info["manifest_note"]


def test_too_few_images_is_a_user_error(tmp_path):
    with pytest.raises(ReconstructionError, match="only 2 usable images"):
        run(tmp_path, {"a.jpg": photo(1), "b.jpg": photo(2), "b2.jpg": photo(2)})


def test_not_a_zip_is_a_user_error(tmp_path):
    with pytest.raises(ReconstructionError, match="not a readable zip"):
        ingest.main(tmp_path, options.resolve(), zip_file=io.BytesIO(b"PK\x03\x04 garbage"))


def test_unknown_option_is_refused():
    with pytest.raises(ValueError, match="mesh_face"):
        options.resolve({"mesh_face": 10})


def test_the_upload_may_be_a_path_as_the_bench_and_the_job_pass_it(tmp_path):
    path = tmp_path / "upload.zip"
    path.write_bytes(upload({"a.jpg": photo(1), "b.jpg": photo(2), "c.jpg": photo(3)}).getvalue())
    ingest.main(tmp_path / "work", options.resolve(), zip_file=path)
    assert ingest.read(Layout(tmp_path / "work").ingest)["images"] == ["a.jpg", "b.jpg", "c.jpg"]
