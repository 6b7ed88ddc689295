"""The real pipeline behind the API: a rendered turntable scan, uploaded as a rig would, comes
back as a textured model and a print-ready solid through dlink, and runs again at another
quality without a new upload."""
import io
import json
import zipfile

import pytest
import requests

from .helpers import Client
from .test_jobs import done, watch

pytestmark = pytest.mark.slow
FAST = {"mesh_faces": 5000, "texture_size": 512, "poisson_depth": 8, "max_image_size": 800,
        "preview_size": 320}


def test_rendered_scan_to_textured_model_through_the_api(start_server):
    from cloud_backend.reconstruct import synthetic
    data = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="full")[0].getvalue()
    server = start_server({"RECONSTRUCTION_OPTIONS": FAST})
    client = Client(server.url, server.token())
    assert client.upload_all("1714559400-stone.zip", data, 200_000_000, photos=36).status_code == 200
    seen = watch(client, "1714559400-stone.zip", done, timeout=600)
    assert seen[-1]["status"] == "processing done", seen[-1]["error"]
    stages = [s["stage"] for s in seen if s["status"] == "processing"]
    assert {"features", "sfm", "dense", "mesh", "texture"} <= set(stages)

    result = zipfile.ZipFile(io.BytesIO(requests.get(seen[-1]["dlink"]).content))
    assert {"model.obj", "model.mtl", "texture.png", "model.glb", "preview.png", "report.json",
            "sparse/cameras.txt", "sparse/images.txt", "sparse/points3D.txt"} <= set(result.namelist())
    report = json.loads(result.read("report.json"))
    assert report["images_registered"] == 36 and report["units"] == "mm"
    assert report["mesh_faces"] <= FAST["mesh_faces"]  # the server's options reached the job
    _assert_printable_in_mm(result, synthetic)

    # the same photos at `high`: features and SfM are re-used (the stages never show up), the
    # dense model and everything after it are made again, and the same dlink serves the new result
    assert client.call("rerunProject", project="1714559400-stone.zip", quality="high").status_code == 200
    again = watch(client, "1714559400-stone.zip", done, timeout=600)
    assert again[-1]["status"] == "processing done", again[-1]["error"]
    rerun_stages = {s["stage"] for s in again if s["status"] == "processing"}
    assert not {"ingest", "features", "sfm"} & rerun_stages and {"dense", "mesh", "export"} <= rerun_stages
    assert again[-1]["dlink"] == seen[-1]["dlink"]
    second = zipfile.ZipFile(io.BytesIO(requests.get(again[-1]["dlink"]).content))
    assert json.loads(second.read("report.json"))["options"]["quality"] == "high"
    assert json.loads(second.read("report.json"))["sparse_points"] == report["sparse_points"]  # same SfM
    _assert_printable_in_mm(second, synthetic)


def _assert_printable_in_mm(result, synthetic):
    """model.stl: one watertight, outward solid; the true object's size within 1 % and its
    volume within 3 %, in millimetres, and report.json says so."""
    import numpy as np
    import trimesh

    solid = trimesh.load(io.BytesIO(result.read("model.stl")), file_type="stl")
    true = trimesh.Trimesh(*synthetic.object_mesh())
    assert solid.is_watertight and solid.is_winding_consistent and len(solid.split()) == 1
    assert np.abs(solid.extents / true.extents - 1).max() < 0.01, (solid.extents, true.extents)
    assert abs(solid.volume / true.volume - 1) < 0.03, (solid.volume, true.volume)
    printed = json.loads(result.read("report.json"))["print"]
    assert printed["watertight"] and printed["volume_mm3"] == pytest.approx(solid.volume, rel=1e-3)
