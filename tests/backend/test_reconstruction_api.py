"""The real pipeline behind the API: a rendered turntable scan, uploaded as a rig would, comes
back as a textured model through dlink."""
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
