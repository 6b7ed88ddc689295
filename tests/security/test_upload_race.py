"""A part upload racing a resetProject ends in a clear 4xx, not a 500 (issue 13.7), and leaves
nothing behind."""
import threading

import requests

from ..backend.helpers import Client

SIZE = 4 << 20
SERVER_SETTINGS = {"PART_SIZE": SIZE}


def test_reset_during_a_part_upload_is_a_clean_4xx(server):
    check_reset_during_a_part_upload_is_a_clean_4xx(server)
    blobs = list((server.data_dir / "blobs").rglob("*"))
    assert not [b for b in blobs if b.is_file()], blobs


def check_reset_during_a_part_upload_is_a_clean_4xx(server):
    client = Client(server.url, server.token())
    for attempt in range(3):
        name = f"race{attempt}.zip"
        link = client.call("createProject", project=name, photos=1, parts=1,
                           filesize=SIZE).json()["ulink"][0]
        halfway = threading.Event()

        def body():
            for i in range(64):
                if i == 32:
                    halfway.set()
                    assert client.call("resetProject", project=name).status_code == 200
                yield b"\xab" * (SIZE // 64)

        r = requests.post(link, data=body(), headers={"Content-Type": "application/octet-stream"})
        assert halfway.is_set()
        assert r.status_code in (404, 409) and "reset" in r.json()["error"], r.text
        assert client.call("getProjectInfo", project=name).status_code == 401  # gone
