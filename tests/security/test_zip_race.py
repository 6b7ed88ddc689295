"""Check-then-use on the uploaded zip: once startProject has accepted the bytes, no part write
may replace them, however the requests interleave (real concurrent HTTP on loopback)."""
import hashlib
import http.client
import io
import json
import zipfile

import pytest
import requests
from botocore.exceptions import ClientError

from cloud_backend.archive import PartsReader
from cloud_backend.storage.s3 import S3Store

from ..backend.conftest import start_server  # noqa: F401 (the fixture)
from ..backend.helpers import Client, jpeg_bytes
from ..backend.test_jobs import PIPELINE, done, watch
from ..backend.test_parts import send_partial, staged_path, wait_until_writing
from ..scale.services import S3


def zip_of(entries, pad=0):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data, method in entries:
            zf.writestr(name, data, method)
        if pad:
            zf.writestr("IMG_pad.jpg", b"\0" * pad, zipfile.ZIP_STORED)
    return out.getvalue()


def good_and_hostile():
    """A good zip, and a hostile one of exactly the same size: a `../` name, a text file and
    a 50 MB bomb entry, each of which the check refuses."""
    good = zip_of([(f"IMG_{i}.jpg", jpeg_bytes(i, (320, 240)), zipfile.ZIP_STORED) for i in range(6)])
    hostile_entries = [("../../escape.jpg", jpeg_bytes(1), zipfile.ZIP_STORED),
                       ("notes.txt", b"not a photo", zipfile.ZIP_STORED),
                       ("bomb.jpg", b"\0" * 50_000_000, zipfile.ZIP_DEFLATED)]
    short = len(good) - len(zip_of(hostile_entries, pad=1)) + 1
    hostile = zip_of(hostile_entries, pad=short)
    assert len(hostile) == len(good)
    return good, hostile


def test_a_part_write_cannot_commit_after_start_project(start_server):  # noqa: F811
    server = start_server(PIPELINE)
    client = Client(server.url, server.token())
    good, hostile = good_and_hostile()
    link = client.create("race.zip", good, 200_000_000, photos=6)["ulink"][0]
    assert requests.put(link, data=good).status_code == 200

    # A second PUT of the same part, held open halfway through its body ...
    upload = send_partial(link, len(hostile), hostile[:len(hostile) // 2], close=False)
    try:
        wait_until_writing(staged_path(server, link))
        # ... while startProject accepts the good bytes that are in place
        assert client.call("startProject", project="race.zip").status_code == 200
        upload.sendall(hostile[len(hostile) // 2:])  # then the PUT finishes
        answer = http.client.HTTPResponse(upload)
        answer.begin()
        status, error = answer.status, json.loads(answer.read())["error"]
    finally:
        upload.close()
    assert status == 409 and "parts can no longer change" in error

    final = watch(client, "race.zip", done)[-1]
    assert final["status"] == "processing done", final
    result = zipfile.ZipFile(io.BytesIO(requests.get(final["dlink"]).content))
    assert json.loads(result.read("report.json"))["images"] == [f"IMG_{i}.jpg" for i in range(6)]
    uid = link.split("/")[4]
    stored = server.data_dir / "blobs" / "projects" / uid / "parts" / "00000"
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(good).digest()


def test_a_part_replaced_in_s3_under_the_job_fails_the_read(tmp_path, monkeypatch):
    """Parts PUT straight into S3 (presigned links) pass no commit guard: the job's reads are
    pinned to the version it opened, so a replaced part fails the job instead of being used
    unchecked."""
    s3 = S3()
    try:
        for key, value in s3.env.items():
            monkeypatch.setenv(key, value)
        store = S3Store("race", "blobs", s3.url)
        (tmp_path / "good").write_bytes(b"g" * 20_000_000)
        (tmp_path / "evil").write_bytes(b"e" * 20_000_000)
        store.put_file("p/0", tmp_path / "good")
        reader = PartsReader(store, ["p/0"])
        assert reader.read(10) == b"g" * 10
        store.put_file("p/0", tmp_path / "evil")  # a second PUT to the presigned link
        reader.seek(15_000_000)
        with pytest.raises(ClientError, match="PreconditionFailed"):
            reader.read(10)
    finally:
        s3.stop()
