"""The zip race of tests/security/test_zip_race.py on PostgreSQL and S3: a part write that
began before startProject cannot commit after it (one row's conditional writes there too)."""
import http.client
import io
import json
import time
import zipfile

import boto3
import pytest
import requests

from ..backend.helpers import Client
from ..backend.test_jobs import done, watch
from ..security.test_zip_race import good_and_hostile, send_partial
from . import services
from .test_scale import FAKE, infra  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.scale, pytest.mark.slow,
              pytest.mark.skipif(services.missing() is not None, reason=str(services.missing()))]


def wait_until_writing(s3, key, timeout=20):
    """The PUT is inside the store's write once its multipart upload exists."""
    client = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1",
                          aws_access_key_id=s3.env["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=s3.env["AWS_SECRET_ACCESS_KEY"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.list_multipart_uploads(Bucket="openscan", Prefix=key).get("Uploads"):
            return
        time.sleep(0.05)
    raise AssertionError(f"no upload of {key} began within {timeout} s")


def test_a_part_write_cannot_commit_after_start_project_on_postgres(infra, tmp_path):  # noqa: F811
    _, _, s3 = infra
    cluster = services.Cluster(tmp_path / "box", *infra, settings={**FAKE, "PART_SIZE": 10_000_000},
                               env={"FAKE_STAGE_SECONDS": "0.2"})
    try:
        client = Client(cluster.api.url, cluster.api.token())
        good, hostile = good_and_hostile()
        link = client.create("race.zip", good, 10_000_000, photos=6)["ulink"][0]
        assert requests.put(link, data=good).status_code == 200
        upload = send_partial(link, len(hostile), hostile[:len(hostile) // 2], close=False)
        try:
            wait_until_writing(s3, f"test/projects/{link.split('/')[4]}/parts/00000")
            assert client.call("startProject", project="race.zip").status_code == 200
            upload.sendall(hostile[len(hostile) // 2:])
            answer = http.client.HTTPResponse(upload)
            answer.begin()
            status, error = answer.status, json.loads(answer.read())["error"]
        finally:
            upload.close()
        assert status == 409 and "parts can no longer change" in error
        final = watch(client, "race.zip", done, timeout=120)[-1]
        assert final["status"] == "processing done", final
        result = zipfile.ZipFile(io.BytesIO(requests.get(final["dlink"]).content))
        assert json.loads(result.read("report.json"))["images"] == [f"IMG_{i}.jpg" for i in range(6)]
    finally:
        cluster.stop()
