"""Object masks (`masks/<photo>.png`, docs/reconstruction.md) arrive through the protocol: the
zip check accepts them by the same rule ingest reads them with, and refuses a mask that
masks no photo."""
import io
import json
import time
import zipfile

import requests

from cloud_backend import archive

from .helpers import Client, jpeg_bytes, png_bytes
from .test_archive import build, refused

PHOTOS = [(f"IMG_{i}.jpg", jpeg_bytes(i)) for i in range(3)]


def test_masks_named_after_their_photo_are_accepted():
    data = build(PHOTOS + [("masks/", b""), ("masks/IMG_0.jpg.png", png_bytes(1)),
                           ("masks/IMG_1.png", png_bytes(2))])
    with archive.Upload(io.BytesIO(data)) as upload:
        assert upload.mask_targets == {"masks/IMG_0.jpg.png": "IMG_0.jpg", "masks/IMG_1.png": "IMG_1.jpg"}
        assert upload.check().images == ["IMG_0.jpg", "IMG_1.jpg", "IMG_2.jpg"]


def test_a_mask_without_its_photo_is_refused_by_name():
    message = refused(build(PHOTOS + [("masks/IMG_9.png", png_bytes(1))]))
    assert "'masks/IMG_9.png' masks no photo" in message


def test_masks_are_pngs_in_masks_only_and_within_the_photo_limits():
    assert "not 'masks/IMG_0.jpg'" in refused(build(PHOTOS + [("masks/IMG_0.jpg", jpeg_bytes(5))]))
    assert "flat at the root" in refused(build(PHOTOS + [("masks/sub/IMG_0.png", png_bytes(1))]))
    assert "flat at the root" in refused(build(PHOTOS + [("other/IMG_0.png", png_bytes(1))]))
    assert "unsafe path" in refused(build(PHOTOS + [("masks/../IMG_0.png", png_bytes(1))]))
    big = png_bytes(1, size=(200, 200))
    assert "at most" in refused(build(PHOTOS + [("masks/IMG_0.png", big)]), max_pixels=100 * 100)


def test_masks_uploaded_through_the_api_reach_the_jobs_ingest(start_server):
    server = start_server({"PIPELINE": "tests.backend.ingest_pipeline"})
    client = Client(server.url, server.token())
    data = build(PHOTOS + [("masks/IMG_0.jpg.png", png_bytes(1)), ("masks/IMG_2.png", png_bytes(3))])
    r = client.upload_all("masked.zip", data, 200_000_000)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while (info := client.call("getProjectInfo", project="masked.zip").json())["status"] not in (
            "processing done", "processing failed"):
        assert time.monotonic() < deadline, info
        time.sleep(0.1)
    assert info["status"] == "processing done", info
    with zipfile.ZipFile(io.BytesIO(requests.get(info["dlink"], timeout=30).content)) as result:
        ingested = json.loads(result.read("ingest.json"))
        assert ingested["masks"] == 2
        assert sorted(n for n in result.namelist() if n.startswith("masks/")) == [
            "masks/IMG_0.jpg.png", "masks/IMG_2.jpg.png"]
        assert result.read("masks/IMG_2.jpg.png") == png_bytes(3)
