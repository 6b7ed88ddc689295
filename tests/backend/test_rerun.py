"""rerunProject: a finished project runs again with other options from the photos it has, no
upload; the same dlink then serves the new result. Only finished projects; one charge however
many re-runs arrive at once."""
import io
import json
import threading
import zipfile

import pytest
import requests

from .helpers import Client, make_zip
from .test_jobs import PIPELINE, done, watch


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=4).read_bytes()


def credit(client):
    return client.call("getTokenInfo").json()["credit"]


def result_options(dlink):
    r = requests.get(dlink)
    assert r.status_code == 200, r.text
    return json.loads(zipfile.ZipFile(io.BytesIO(r.content)).read("options.json"))


def test_a_done_project_runs_again_with_new_options_and_the_same_dlink(start_server, data, tmp_path):
    log = tmp_path / "stages.log"
    server = start_server(PIPELINE, env={"FAKE_RUN_LOG": str(log)})
    client = Client(server.url, server.token())
    client.upload_all("owl.zip", data, 200_000_000, quality="preview")
    first = watch(client, "owl.zip", done)[-1]
    assert first["status"] == "processing done"
    assert result_options(first["dlink"]) == {"quality": "preview"}
    before = credit(client)

    r = client.call("rerunProject", project="owl.zip", quality="high", formats="stl")
    assert r.status_code == 200 and r.json() == {"status": "initialized"}, r.text
    assert client.call("getProjectInfo", project="owl.zip").json()["dlink"] == ""  # not done yet
    second = watch(client, "owl.zip", done)[-1]
    assert second["status"] == "processing done" and second["dlink"] == first["dlink"]
    assert result_options(first["dlink"]) == {"quality": "high", "formats": ["stl"]}
    assert second["options"]["quality"] == "high"
    # the delivered model's re-run costs its size once more
    assert credit(client) == before - len(data)
    # another token cannot re-run it (nor learn it exists), and pays nothing for trying
    stranger = Client(server.url, server.token())
    stranger_credit = credit(stranger)
    r = stranger.call("rerunProject", project="owl.zip", quality="preview")
    assert r.status_code in (400, 401) and r.json() == {"error": "unknown project 'owl.zip'"}
    assert credit(stranger) == stranger_credit and credit(client) == before - len(data)
    # the work folder was kept: the re-run did not unpack the photos again
    assert log.read_text().split().count("ingest") == 1


def test_only_a_finished_project_can_run_again(start_server, data):
    server = start_server(PIPELINE, env={"FAKE_STAGE_SECONDS": "20"})
    client = Client(server.url, server.token())
    client.create("new.zip", data, 200_000_000)
    r = client.call("rerunProject", project="new.zip")
    assert r.status_code == 409 and "only a finished project" in r.json()["error"], r.text
    client.upload_all("busy.zip", data, 200_000_000)
    watch(client, "busy.zip", lambda i: i["status"] == "processing")
    r = client.call("rerunProject", project="busy.zip")
    assert r.status_code == 409 and "processing" in r.json()["error"], r.text
    assert client.call("rerunProject", project="nope.zip").status_code == 400
    r = client.call("rerunProject", project="busy.zip", quality="ultra")
    assert r.status_code == 400 and "quality:" in r.json()["error"]
    client.call("resetProject", project="busy.zip")


def test_two_reruns_at_once_queue_and_charge_once(start_server, data):
    server = start_server(PIPELINE)
    client = Client(server.url, server.token())
    client.upload_all("race.zip", data, 200_000_000)
    assert watch(client, "race.zip", done)[-1]["status"] == "processing done"
    before = credit(client)

    barrier, answers = threading.Barrier(8), []

    def rerun():
        barrier.wait()
        answers.append(client.call("rerunProject", project="race.zip", quality="high"))

    threads = [threading.Thread(target=rerun) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 7, [r.text for r in answers]
    assert credit(client) == before - len(data)
    assert watch(client, "race.zip", done)[-1]["status"] == "processing done"


def test_rerunning_a_failed_project_is_free_and_reset_refunds_once(start_server, data):
    server = start_server(PIPELINE, env={"FAKE_FAIL_AT": "sfm"})
    client = Client(server.url, server.token())
    start = credit(client)
    client.upload_all("bad.zip", data, 200_000_000)
    assert watch(client, "bad.zip", done)[-1]["status"] == "processing failed"
    assert client.call("rerunProject", project="bad.zip", objecttype="scene").status_code == 200
    final = watch(client, "bad.zip", lambda i: done(i) and i["options"]["objecttype"] == "scene")[-1]
    assert final["status"] == "processing failed"
    assert credit(client) == start - len(data)  # held once, not twice
    client.call("resetProject", project="bad.zip")
    assert credit(client) == start


def test_reset_deletes_the_kept_work_folder(start_server, data):
    server = start_server(PIPELINE)
    client = Client(server.url, server.token())
    client.upload_all("gone.zip", data, 200_000_000)
    assert watch(client, "gone.zip", done)[-1]["status"] == "processing done"
    work = server.data_dir / "work"
    assert [p.name for p in work.iterdir()] and list(work.glob("*/export.done"))
    client.call("resetProject", project="gone.zip")
    assert not any(work.iterdir())
