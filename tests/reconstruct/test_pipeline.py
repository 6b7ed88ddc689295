"""The whole pipeline through its job-system entry point, on a rendered scan of a known mesh."""
import io
import json
import zipfile

import numpy as np
import pytest

from cloud_backend.reconstruct import evaluate, pipeline, synthetic
from cloud_backend.reconstruct.stage import marker_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(synthetic_scan, fast_options, tmp_path_factory):
    work = tmp_path_factory.mktemp("job")
    calls = []
    result = pipeline.run(io.BytesIO(synthetic_scan[0]), work, fast_options, lambda s, f: calls.append((s, f)))
    return work, result, calls


def test_result_zip_holds_every_promised_file(finished):
    _, result, _ = finished
    names = set(zipfile.ZipFile(result).namelist())
    assert {"model.obj", "model.mtl", "texture.png", "model.glb", "report.json", "report.html", "preview.png",
            "sparse/cameras.txt", "sparse/images.txt", "sparse/points3D.txt"} <= names


def test_report_tells_what_happened(finished):
    _, result, _ = finished
    report = json.loads(zipfile.ZipFile(result).read("report.json"))
    assert report["images_given"] == report["images_used"] == report["images_registered"] == 36
    assert report["reprojection_error_px"] < 1.0
    assert report["units"] == "mm" and "manifest" in report["scale_source"]
    assert set(report["timing_s"]) == {"ingest", "features", "sfm", "dense", "mesh", "texture"}
    assert report["pair_strategy"] == "angles+view graph" and report["fixed_intrinsics"] is True
    assert report["images_unregistered"] == [] and report["options"]["quality"] == "standard"


def test_model_is_metric_and_close_to_the_true_surface(finished):
    import open3d as o3d

    work, _, _ = finished
    verts, faces = synthetic.object_mesh()
    result = o3d.io.read_triangle_mesh(str(work / "mesh" / "mesh.ply"))
    a = evaluate.surface_samples(verts, faces, 30000)
    b = evaluate.surface_samples(np.asarray(result.vertices), np.asarray(result.triangles), 30000)
    diagonal = np.linalg.norm(verts.max(0) - verts.min(0))
    # No alignment here: the manifest alone must put the model in the turntable frame, in mm.
    assert evaluate.chamfer(a, b) < 0.03 * diagonal


def test_textured_obj_and_glb_load_with_their_texture(finished):
    import cv2
    import trimesh

    work, result, _ = finished
    archive = zipfile.ZipFile(result)
    glb = trimesh.load(io.BytesIO(archive.read("model.glb")), file_type="glb", force="mesh")
    assert 4000 <= len(glb.faces) <= 5000
    # the GLB carries the very texture of the OBJ, pixel for pixel
    texture_png = cv2.imdecode(np.frombuffer(archive.read("texture.png"), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(np.asarray(glb.visual.material.baseColorTexture.convert("RGB")),
                          cv2.cvtColor(texture_png, cv2.COLOR_BGR2RGB))
    obj = archive.read("model.obj").decode()
    assert "mtllib model.mtl" in obj and obj.count("\nvt ") > 1000
    assert "map_Kd texture.png" in archive.read("model.mtl").decode()


def test_texture_and_preview_show_the_object_colours(finished):
    import cv2

    work, result, _ = finished
    archive = zipfile.ZipFile(result)
    preview = cv2.imdecode(np.frombuffer(archive.read("preview.png"), np.uint8), cv2.IMREAD_COLOR)
    covered = (preview < 250).any(axis=2)
    assert 0.05 < covered.mean() < 0.95        # the object fills part of the view
    assert preview[covered].std(axis=0).mean() > 10   # and it is textured, not flat grey
    tex = cv2.imdecode(np.frombuffer(archive.read("texture.png"), np.uint8), cv2.IMREAD_COLOR)
    assert (tex.sum(axis=2) > 30).mean() > 0.5     # most of the atlas got colour from the photos


def test_progress_is_monotonic_without_big_jumps(finished):
    _, _, calls = finished
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == pytest.approx(1.0)
    assert max(np.diff(fractions)) <= 0.1
    assert [s for s, _ in calls][-1] == "export"


def test_resume_runs_only_unfinished_stages(finished, synthetic_scan, fast_options):
    work, result, _ = finished
    before = {s: marker_path(work, s).stat().st_mtime_ns for s in ("ingest", "features", "sfm", "dense")}
    marker_path(work, "texture").unlink()   # as if killed during texturing
    marker_path(work, "export").unlink()
    calls = []
    pipeline.run(io.BytesIO(synthetic_scan[0]), work, fast_options, lambda s, f: calls.append((s, f)))
    assert {s for s, _ in calls} == {"texture", "export"}
    assert {s: marker_path(work, s).stat().st_mtime_ns for s in before} == before
    assert calls[0][1] >= 0.5          # progress resumes where the job was, not at 0
    assert zipfile.ZipFile(work / "result.zip").testzip() is None


def test_a_stage_runs_alone_on_a_work_folder_with_other_options(finished):
    """`python -m cloud_backend.reconstruct.<stage> WORK_DIR KEY=JSON`: what a developer tuning
    one stage does; it reads only what earlier stages left and marks itself done."""
    import subprocess
    import sys

    work, result, _ = finished
    before = json.loads(marker_path(work, "export").read_text())
    out = subprocess.run([sys.executable, "-m", "cloud_backend.reconstruct.export", str(work), "preview_size=200"],
                         check=True, capture_output=True, text=True).stdout
    assert json.loads(out)["result_bytes"] == json.loads(marker_path(work, "export").read_text())["result_bytes"]
    assert json.loads(marker_path(work, "export").read_text()) != before
    with zipfile.ZipFile(work / "result.zip") as archive:
        import cv2

        preview = cv2.imdecode(np.frombuffer(archive.read("preview.png"), np.uint8), cv2.IMREAD_COLOR)
        assert preview.shape[:2] == (200, 200)
        assert json.loads(archive.read("report.json"))["options"]["preview_size"] == 200


def test_stl_is_one_watertight_solid_of_the_true_size_in_mm(finished):
    import trimesh

    _, result, _ = finished
    archive = zipfile.ZipFile(result)
    assert archive.read("model.stl")[80:84] != b"" and not archive.read("model.stl").startswith(b"solid")   # binary
    solid = trimesh.load(io.BytesIO(archive.read("model.stl")), file_type="stl")
    assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
    assert len(solid.split(only_watertight=False)) == 1
    true = trimesh.Trimesh(*synthetic.object_mesh())
    assert np.abs(solid.extents / true.extents - 1).max() < 0.01, (solid.extents, true.extents)
    assert abs(solid.volume / true.volume - 1) < 0.03, (solid.volume, true.volume)
    printed = json.loads(archive.read("report.json"))["print"]
    assert printed["watertight"] is True and printed["units"] == "mm"
    assert printed["volume_mm3"] == pytest.approx(solid.volume, rel=1e-3)
    assert printed["bbox_mm"] == pytest.approx(list(solid.extents), abs=0.02)


def test_ply_holds_the_fused_points(finished):
    work, result, _ = finished
    assert zipfile.ZipFile(result).read("model.ply") == (work / "dense" / "fused.ply").read_bytes()


def test_a_rerun_with_other_options_redoes_only_the_stages_they_change(finished, synthetic_scan, fast_options,
                                                                        tmp_path):
    """texture off and other formats: features to mesh stand, texture is skipped, export redone."""
    import shutil

    work, _, _ = finished
    rerun = tmp_path / "job"
    shutil.copytree(work, rerun)   # copy2 keeps the markers' mtimes
    kept = ("ingest", "features", "sfm", "dense", "mesh")
    before = {s: marker_path(rerun, s).stat().st_mtime_ns for s in kept}
    calls = []
    result = pipeline.run(io.BytesIO(synthetic_scan[0]), rerun, {**fast_options, "texture": False, "formats": "obj,stl"},
                          lambda s, f: calls.append((s, f)))
    assert {s for s, _ in calls} == {"texture", "export"}
    assert {s: marker_path(rerun, s).stat().st_mtime_ns for s in kept} == before
    assert json.loads(marker_path(rerun, "texture").read_text())["skipped"] == "texture off"
    archive = zipfile.ZipFile(result)
    assert set(n for n in archive.namelist() if not n.startswith("sparse/")) == {
        "model.obj", "model.stl", "report.json", "report.html", "preview.png"}
    obj = archive.read("model.obj").decode()
    assert "mtllib" not in obj and len(obj.split("\n", 1)[0].split()) == 7   # v x y z r g b
    report = json.loads(archive.read("report.json"))
    assert report["options"]["texture"] is False and report["options"]["formats"] == ["obj", "stl"]
    # the same options again: nothing to do; a speed-only option changes nothing either
    calls.clear()
    pipeline.run(io.BytesIO(synthetic_scan[0]), rerun, {**fast_options, "texture": False, "formats": ["stl", "obj"],
                                                        "num_threads": 1}, lambda s, f: calls.append((s, f)))
    assert calls == []
