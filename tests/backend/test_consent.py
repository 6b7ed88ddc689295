"""What is kept of a user's photos: without consent they go once the result was downloaded
(plus PHOTO_GRACE_HOURS), the result stays; with consent they stay, and the operator can list
and export those projects."""
import io
import json
import time
import zipfile

import pytest
import requests

from .helpers import Client, make_zip
from .server import cli
from .test_jobs import PIPELINE, done, watch


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=4).read_bytes()


def parts_of(server):
    return sorted(p for p in (server.data_dir / "blobs" / "projects").glob("*/parts/*"))


def kept(client, name):
    return client.call("getProjectInfo", project=name).json()["photos_kept"]


def settle(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    return condition()


def cli_env(server):
    return {k: v for k, v in server.env.items() if k.startswith("OPENSCAN_CLOUD_")}


def test_photos_without_consent_go_after_the_download_and_the_result_stays(start_server, data):
    server = start_server({**PIPELINE, "PHOTO_GRACE_HOURS": 0, "HOUSEKEEPING_SECONDS": 0.5})
    client = Client(server.url, server.token())
    client.upload_all("private.zip", data, 200_000_000)
    final = watch(client, "private.zip", done)[-1]
    assert final["status"] == "processing done" and final["options"]["consent"] is False
    time.sleep(2)  # housekeeping ran a few times: nothing delivered yet, nothing deleted
    assert kept(client, "private.zip") and parts_of(server)

    assert requests.get(final["dlink"]).status_code == 200  # delivered
    assert settle(lambda: not kept(client, "private.zip"))
    assert parts_of(server) == [] and not any((server.data_dir / "work").iterdir())
    assert requests.get(final["dlink"]).status_code == 200  # the result stays until expiry
    r = client.call("rerunProject", project="private.zip", quality="high")
    assert r.status_code == 409 and "photos of this project were deleted" in r.json()["error"]


def test_photos_stay_through_the_grace_period(start_server, data):
    server = start_server(PIPELINE)  # PHOTO_GRACE_HOURS: 24
    client = Client(server.url, server.token())
    client.upload_all("soon.zip", data, 200_000_000)
    assert requests.get(watch(client, "soon.zip", done)[-1]["dlink"]).status_code == 200
    out = cli(server.data_dir, "project", "expire", env=cli_env(server))
    assert "0 project(s) lost their delivered photos" in out
    assert kept(client, "soon.zip") and parts_of(server)
    # within the grace period a re-run still works from the kept photos
    assert client.call("rerunProject", project="soon.zip", texture="false").status_code == 200


def test_consented_photos_stay_and_the_operator_exports_them(start_server, data, tmp_path):
    server = start_server({**PIPELINE, "PHOTO_GRACE_HOURS": 0, "HOUSEKEEPING_SECONDS": 0.5})
    client = Client(server.url, server.token())
    client.upload_all("shared.zip", data, 200_000_000, consent="true", quality="high")
    client.upload_all("mine.zip", data, 200_000_000)
    for name in ("shared.zip", "mine.zip"):
        assert requests.get(watch(client, name, done)[-1]["dlink"]).status_code == 200
    assert settle(lambda: not kept(client, "mine.zip"))
    assert kept(client, "shared.zip")

    listed = cli(server.data_dir, "project", "list", "--consented", env=cli_env(server))
    assert "shared.zip" in listed and "mine.zip" not in listed
    dest = tmp_path / "export"
    cli(server.data_dir, "project", "export", "--consented", dest, env=cli_env(server))
    [folder] = dest.iterdir()
    assert (folder / "photos.zip").read_bytes() == data
    assert zipfile.ZipFile(io.BytesIO((folder / "result.zip").read_bytes())).read("model.obj")
    meta = json.loads((folder / "options.json").read_text())
    assert meta["project"] == "shared.zip" and meta["options"]["consent"] is True
    assert meta["options"]["quality"] == "high"
