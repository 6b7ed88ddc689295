"""The embedded job system seen from the client: states and progress, the result download,
failures, cancel by resetProject, and resuming after a power cut. The reconstruction itself is
replaced by tests/backend/fake_pipeline.py here; tests/reconstruct covers the real one."""
import time

import psutil
import pytest
import requests

from .helpers import Client, make_zip

PIPELINE = {"PIPELINE": "tests.backend.fake_pipeline"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=4).read_bytes()


def watch(client, name, until, timeout=60):
    """Poll getProjectInfo like a rig does; return every answer until ``until(info)``."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.call("getProjectInfo", project=name).json()
        seen.append(info)
        if until(info):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"timed out; last answer {seen[-1]}")


def done(info):
    return info["status"] in ("processing done", "processing failed")


def job_processes(server):
    """The server's job processes (children of its worker)."""
    found = []
    for p in psutil.Process(server.process.pid).children(recursive=True):
        try:
            if "cloud_backend.jobs.runner" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.NoSuchProcess:  # ended while we looked
            pass
    return found


def test_project_goes_through_the_real_states_to_a_downloadable_result(start_server, data):
    server = start_server(PIPELINE, env={"FAKE_STAGE_SECONDS": "0.5"})
    client = Client(server.url, server.token())
    assert client.upload_all("owl.zip", data, 200_000_000).status_code == 200
    seen = watch(client, "owl.zip", done)
    statuses = [s["status"] for s in seen]
    assert statuses[-1] == "processing done", seen[-1]
    assert "processing" in statuses and statuses.index("processing") < len(statuses) - 1
    progress = [s["progress"] for s in seen if s["status"] == "processing"]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    assert {s["stage"] for s in seen} >= {"features", "sfm"}
    final = seen[-1]
    assert final["progress"] == 100 and final["error"] == "" and final["dlink"].startswith(server.url)

    whole = requests.get(final["dlink"])
    assert whole.status_code == 200 and whole.content.startswith(b"PK")
    part = requests.get(final["dlink"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert requests.get(final["dlink"].replace("sig=", "sig=x")).status_code == 403

    estimate = client.call("getQueueEstimate").json()["estimated_time_seconds"]
    assert 1 < estimate < 30  # learnt from the job just done, not the 600 s default


def test_a_failing_job_ends_in_processing_failed_with_the_reason(start_server, data):
    server = start_server(PIPELINE, env={"FAKE_FAIL_AT": "sfm"})
    client = Client(server.url, server.token())
    client.upload_all("bad.zip", data, 200_000_000)
    final = watch(client, "bad.zip", done)[-1]
    assert final["status"] == "processing failed" and final["dlink"] == ""
    assert "only 2 of 40 images could be registered" in final["error"]


def test_reset_kills_the_running_job_and_the_worker_goes_on(start_server, data):
    server = start_server(PIPELINE, env={"FAKE_STAGE_SECONDS": "20"})
    client = Client(server.url, server.token())
    client.upload_all("slow.zip", data, 200_000_000)
    watch(client, "slow.zip", lambda i: i["status"] == "processing")
    assert len(job_processes(server)) == 1
    client.call("resetProject", project="slow.zip")
    deadline = time.monotonic() + 10
    while job_processes(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job_processes(server) == []
    assert not list((server.data_dir / "work").glob("*/features.done"))
    assert not (server.data_dir / "work").exists() or not any((server.data_dir / "work").iterdir())


def test_a_job_resumes_from_its_last_finished_stage_after_a_power_cut(start_server, data, tmp_path):
    log = tmp_path / "stages.log"
    env = {"FAKE_STAGE_SECONDS": "1.5", "FAKE_RUN_LOG": str(log)}
    server = start_server(PIPELINE, env=env, data_dir=tmp_path / "box")
    client = Client(server.url, server.token())
    client.upload_all("cut.zip", data, 200_000_000)
    watch(client, "cut.zip", lambda i: i["stage"] == "sfm")
    server.kill_everything()

    server = start_server(PIPELINE, env={**env, "FAKE_STAGE_SECONDS": "0.2"},
                          data_dir=tmp_path / "box")
    final = watch(Client(server.url, client.token), "cut.zip", done)[-1]
    assert final["status"] == "processing done"
    # the finished stages did not run again; only the interrupted one did
    assert log.read_text().split() == ["ingest", "features", "sfm", "sfm", "export"]
