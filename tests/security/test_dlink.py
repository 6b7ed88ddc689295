"""OpenScan2 stores the dlink once and shows it forever (issue 12.3): the link must work for as
long as the result is kept, and stop when the project is reset or expires."""
import time

import pytest
import requests

from ..backend.helpers import Client, make_zip
from ..backend.server import Server, cli
from ..backend.test_jobs import done, watch

# DOWNLOAD_MAX_AGE only bounds presigned object-storage URLs now; 1 s would have killed dlink
SETTINGS = {"PIPELINE": "tests.backend.fake_pipeline", "DOWNLOAD_MAX_AGE": 1}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server"), SETTINGS, env={"FAKE_STAGE_SECONDS": "0.05"})
    yield srv
    srv.stop()


def finished(server, tmp_path, name):
    client = Client(server.url, server.token())
    data = make_zip(tmp_path / name).read_bytes()
    assert client.upload_all(name, data, 200_000_000).status_code == 200
    final = watch(client, name, done)[-1]
    assert final["status"] == "processing done", final
    return client, final["dlink"]


def test_a_stored_dlink_outlives_its_age_and_dies_with_a_reset(server, tmp_path):
    client, dlink = finished(server, tmp_path, "owl.zip")
    time.sleep(2)
    r = requests.get(dlink)
    assert r.status_code == 200 and r.content.startswith(b"PK"), r.text
    assert client.call("resetProject", project="owl.zip").status_code == 200
    r = requests.get(dlink)
    assert r.status_code == 404 and "no longer exists" in r.json()["error"]
    # the same name sent again and processed gets a new link; the old one stays dead
    _, new_link = finished(server, tmp_path, "owl.zip")
    assert new_link != dlink and requests.get(dlink).status_code == 404


def test_a_dlink_dies_when_its_project_expires(server, tmp_path):
    client, dlink = finished(server, tmp_path, "expiring.zip")
    cli(server.data_dir, "project", "expire", "--days", "0")
    assert requests.get(dlink).status_code == 404
