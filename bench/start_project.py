"""startProject on a 2 GB, 10-part set, on the local store and on S3 (moto's server): how long
the client waits for startProject, and how long the full zip check takes (the job runs it now;
startProject used to, while the client waited: OpenScan3 gives up after 60 s).

    python bench/start_project.py [--size-mb 2000] [--stores local,s3]
"""
import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cloud_backend import archive, config  # noqa: E402
from cloud_backend.storage import open_store  # noqa: E402
from tests.backend.helpers import Client, file_slice, write_big_zip  # noqa: E402
from tests.backend.server import Server  # noqa: E402
from tests.scale.services import S3  # noqa: E402

PART = 200_000_000


class _Sized:  # a streamed body of known length: Content-Length, no chunks
    def __init__(self, chunks, length):
        self.chunks, self.len = chunks, length

    def __iter__(self):
        return iter(self.chunks)


def measure(folder, src, size, settings, env):
    server = Server(folder, settings, worker=False, env=env)
    try:
        client = Client(server.url, server.token())
        parts = math.ceil(size / PART)
        links = client.call("createProject", project="big.zip", photos=20, parts=parts,
                            filesize=size).json()["ulink"]
        started = time.perf_counter()
        for i, link in enumerate(links):
            length = min(PART, size - i * PART)
            requests.post(link, data=_Sized(file_slice(src, i * PART, length), length),
                          timeout=900).raise_for_status()
        upload = time.perf_counter() - started
        started = time.perf_counter()
        r = client.call("startProject", project="big.zip")
        start = time.perf_counter() - started
        assert r.status_code == 200, r.text
        # The job's check, in this process, against the same store: what startProject cost
        # while it read every byte.
        full = config.load({**settings, "DATA_DIR": str(folder)}, environ={**env})
        uid = links[0].split("/")[4].split("?")[0]
        os.environ.update(env)  # the S3 credentials, for this process's client
        store = open_store(full)
        keys = [f"projects/{uid}/parts/{i:05d}" for i in range(parts)]
        started = time.perf_counter()
        with archive.PartsReader(store, keys) as reader:
            archive.validate(reader, **archive.rules(full, 1000))
        check = time.perf_counter() - started
        return upload, start, check
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=2000)
    parser.add_argument("--stores", default="local,s3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        tmp = Path(tmp)
        size = write_big_zip(tmp / "big.zip", args.size_mb * 1_000_000 - 10_000, photos=40)
        print(f"set: {size / 1e9:.2f} GB in {math.ceil(size / PART)} parts of {PART / 1e6:.0f} MB")
        for store in args.stores.split(","):
            settings, env, s3 = {}, {}, None
            if store == "s3":
                s3 = S3()
                settings = {"STORAGE_URL": "s3://bench/blobs", "S3_ENDPOINT_URL": s3.url}
                env = s3.env
            try:
                folder = tmp / store
                folder.mkdir()
                upload, start, check = measure(folder, tmp / "big.zip", size, settings, env)
            finally:
                if s3:
                    s3.stop()
            print(f"{store:5s}  upload {upload:6.1f} s  startProject {start:6.2f} s  "
                  f"full zip check (now in the job) {check:6.1f} s "
                  f"({size / check / 1e6:.0f} MB/s)")


if __name__ == "__main__":
    main()
