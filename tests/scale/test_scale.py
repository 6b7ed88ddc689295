"""The backend spread out: API + two Celery workers on PostgreSQL, Redis and S3, all real
servers on loopback. The reconstruction is tests/backend/fake_pipeline.py (seconds per stage)."""
import contextlib
import hashlib
import random
import time

import pytest
import requests
import sqlalchemy as sa

from ..backend.helpers import Client, make_zip, slices
from ..backend.test_jobs import done, watch
from . import services

pytestmark = [pytest.mark.scale, pytest.mark.slow,
              pytest.mark.skipif(services.missing() is not None, reason=str(services.missing()))]
FAKE = {"PIPELINE": "tests.backend.fake_pipeline", "STALE_JOB_SECONDS": 6, "PART_SIZE": 200_000}


@pytest.fixture(scope="module")
def infra(tmp_path_factory):
    with contextlib.ExitStack() as stack:  # a server that fails to start stops the others
        redis = services.Redis(tmp_path_factory.mktemp("infra"))
        stack.callback(redis.stop)
        postgres = services.Postgres()
        stack.callback(postgres.remove)
        s3 = services.S3()
        stack.callback(s3.stop)
        yield redis, postgres, s3


@pytest.fixture
def cluster(infra, tmp_path, request):
    stage_seconds = getattr(request, "param", "1.0")
    cluster = services.Cluster(tmp_path / "box", *infra, settings=FAKE,
                               env={"FAKE_STAGE_SECONDS": stage_seconds,
                                    "FAKE_RUN_LOG": str(tmp_path / "stages.log")})
    yield cluster
    cluster.stop()


def jobs(cluster, *names):
    """(worker, state, attempts, project name) of the jobs of these projects."""
    engine = sa.create_engine(cluster.settings["DATABASE_URL"])
    with engine.connect() as c:
        rows = c.execute(sa.text("select j.worker, j.state, j.attempts, p.name from jobs j "
                                 "join projects p on p.id = j.project_id "
                                 "where p.name in :names").bindparams(
                                     sa.bindparam("names", expanding=True)), {"names": names}).all()
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=6, size=(320, 240)).read_bytes()


def test_four_projects_complete_across_both_workers(cluster, data):
    client = Client(cluster.api.url, cluster.api.token())
    names = [f"p{i}.zip" for i in range(4)]
    for name in names:
        assert client.upload_all(name, data, 200_000, photos=6).status_code == 200
    for name in names:
        final = watch(client, name, done, timeout=180)[-1]
        assert final["status"] == "processing done", final
        assert requests.get(final["dlink"]).content.startswith(b"PK")  # presigned S3 GET
    workers = {row.worker.rsplit(":", 1)[1] for row in jobs(cluster, *names)}
    assert len(workers) == 2, jobs(cluster, *names)


def test_kill_9_of_a_worker_mid_job_still_ends_in_done(cluster, data, tmp_path):
    client = Client(cluster.api.url, cluster.api.token())
    client.upload_all("victim.zip", data, 200_000, photos=6)
    watch(client, "victim.zip", lambda i: i["stage"] == "sfm", timeout=120)
    [(worker, _, _, _)] = jobs(cluster, "victim.zip")
    pid = int(worker.rsplit(":", 1)[1])
    victim = next(w for w in cluster.workers
                  if pid in [w.pid] + [c.pid for c in __import__("psutil").Process(w.pid).children(True)])
    cluster.kill9(victim)
    final = watch(client, "victim.zip", done, timeout=180)[-1]
    assert final["status"] == "processing done"
    [(worker_after, state, attempts, _)] = jobs(cluster, "victim.zip")
    assert worker_after != worker and attempts == 2
    # resumed: the stages finished before the kill did not run again
    assert (tmp_path / "stages.log").read_text().split().count("ingest") == 1


def test_postgres_restart_mid_run_loses_no_project(cluster, infra, data):
    _, postgres, _ = infra
    client = Client(cluster.api.url, cluster.api.token())
    client.upload_all("pg.zip", data, 200_000, photos=6)
    watch(client, "pg.zip", lambda i: i["status"] == "processing", timeout=120)
    postgres.restart(down_seconds=4)
    deadline, final = time.monotonic() + 180, None
    while time.monotonic() < deadline:
        r = client.call("getProjectInfo", project="pg.zip")
        if r.status_code == 200 and done(r.json()):
            final = r.json()
            break
        time.sleep(0.5)
    assert final and final["status"] == "processing done", final


def test_parts_stream_into_s3_and_resume_after_a_cut(cluster, data):
    from ..backend.test_parts import head_offset, send_partial, wait_for_offset
    client = Client(cluster.api.url, cluster.api.token())
    links = client.create("s3.zip", data, 200_000, photos=6)["ulink"]
    parts = slices(data, 200_000)
    cut = random.randrange(10_000, 190_000)
    send_partial(links[0], len(parts[0]), parts[0][:cut])
    assert wait_for_offset(links[0], cut) == cut
    r = requests.patch(links[0], data=parts[0][cut:], headers={
        "Upload-Offset": str(cut), "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and head_offset(links[0])[0] == len(parts[0])
    for link, part in zip(links[1:], parts[1:]):
        r = requests.put(link, data=part)
        assert r.json()["content-hash"] == hashlib.sha256(part).hexdigest()
    assert client.call("startProject", project="s3.zip").status_code == 200
    assert watch(client, "s3.zip", done, timeout=120)[-1]["status"] == "processing done"


def test_direct_uploads_go_straight_to_s3(cluster, data):
    client = Client(cluster.api.url, cluster.api.token())
    r = client.call("createProject", project="direct.zip", photos=6, parts=len(slices(data, 200_000)),
                    filesize=len(data), direct="true")
    links = r.json()["ulink"]
    assert all(link.startswith(cluster.settings["S3_ENDPOINT_URL"]) for link in links)
    for link, part in zip(links, slices(data, 200_000)):
        assert requests.put(link, data=part).status_code == 200
    assert client.call("startProject", project="direct.zip").status_code == 200
    final = watch(client, "direct.zip", done, timeout=120)[-1]
    part = requests.get(final["dlink"], headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"PK\x03\x04"


@pytest.mark.parametrize("cluster", ["30"], indirect=True)
def test_reset_revokes_the_job_and_ends_its_process_tree(cluster, data):
    import psutil
    client = Client(cluster.api.url, cluster.api.token())
    client.upload_all("slow.zip", data, 200_000, photos=6)
    watch(client, "slow.zip", lambda i: i["status"] == "processing", timeout=120)

    def runners():
        found = []
        for w in cluster.workers:
            for p in psutil.Process(w.pid).children(recursive=True):
                try:
                    if "cloud_backend.jobs.runner" in " ".join(p.cmdline()):
                        found.append(p)
                except psutil.NoSuchProcess:
                    pass
        return found
    assert len(runners()) == 1
    client.call("resetProject", project="slow.zip")
    deadline = time.monotonic() + 15
    while runners() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert runners() == [] and jobs(cluster, "slow.zip") == []


def test_old_projects_expire_and_their_storage_is_cleaned(cluster, data, infra):
    import subprocess
    import sys

    import boto3
    client = Client(cluster.api.url, cluster.api.token())
    client.upload_all("old.zip", data, 200_000, photos=6)
    final = watch(client, "old.zip", done, timeout=120)[-1]
    assert final["status"] == "processing done"
    prefix = f"test/projects/{final['dlink'].split('/download/', 1)[1].split('/')[0]}/"
    s3 = boto3.client("s3", endpoint_url=cluster.settings["S3_ENDPOINT_URL"], **{
        "aws_access_key_id": "openscan", "aws_secret_access_key": "openscan-secret",
        "region_name": "us-east-1"})

    def stored():
        return s3.list_objects_v2(Bucket="openscan", Prefix=prefix).get("KeyCount", 0)
    assert stored() >= 2  # the parts and the result
    out = subprocess.run([sys.executable, "-m", "cloud_backend.cli", "project", "expire", "--days", "0"],
                         env=cluster.env, capture_output=True, text=True, check=True).stdout
    assert "old.zip" in out
    info = client.call("getProjectInfo", project="old.zip").json()
    assert info["status"] == "expired" and info["dlink"] == ""
    assert stored() == 0
