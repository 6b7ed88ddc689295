"""A full disk is the server's problem, said so: 507 with a message, not a 500 that the rigs
retry forever or read as their fault (issue 13.7). A real full filesystem: a small tmpfs
mounted for the test (skipped where mounting is not permitted)."""
import os
import subprocess
import uuid

import pytest
import requests

from ..backend.helpers import Client

SIZE = 4 << 20  # the filesystem is 8 MiB


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(folder):
    """Write until the filesystem refuses (ENOSPC)."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    os.sync()


def test_full_disk_is_507_on_upload_and_on_create(start_server, small_disk):
    server = start_server({"DATABASE_URL": f"sqlite:///{small_disk}/openscan.db",
                           "STORAGE_URL": f"file://{small_disk}/blobs"}, worker=False)
    client = Client(server.url, server.token())
    link = client.call("createProject", project="a.zip", photos=1, parts=1,
                       filesize=SIZE).json()["ulink"][0]
    fill(small_disk)

    r = requests.post(link, data=os.urandom(SIZE))
    assert r.status_code == 507 and "storage is full" in r.json()["error"], r.text
    answers = [client.call("createProject", project=f"{uuid.uuid4().hex}.zip", photos=1, parts=1,
                           filesize=10) for _ in range(20)]  # until the database needs to grow
    assert {a.status_code for a in answers} <= {200, 507}, [a.text for a in answers]
    assert 507 in {a.status_code for a in answers}
    assert all("storage is full" in a.json()["error"] for a in answers if a.status_code == 507)
    (small_disk / "filler").unlink()  # once there is room again, it all works
    assert requests.post(link, data=os.urandom(SIZE)).status_code == 200
