"""Upload throughput: a 1 GB project through `openscan-cloud serve` on loopback, as a ratio to
writing the same bytes to the same disk (both in this run, so the machine's noise cancels).

    python bench/upload.py [--size-mb 1000] [--chunked]
"""
import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.backend.helpers import Client, file_slice, write_big_zip  # noqa: E402
from tests.backend.server import Server  # noqa: E402

PART = 200_000_000


def disk_write(src, dst):
    """The reference: copy in 1 MiB blocks and fsync, like the server's part writer."""
    start = time.perf_counter()
    with open(dst, "wb") as out:
        for chunk in file_slice(src, 0, src.stat().st_size):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return time.perf_counter() - start


def upload(server, src, size, chunked, name):
    client = Client(server.url, server.token())
    parts = math.ceil(size / PART)
    links = client.call("createProject", project=name, photos=20, parts=parts,
                        filesize=size).json()["ulink"]
    start = time.perf_counter()
    for i, link in enumerate(links):
        length = min(PART, size - i * PART)
        body = file_slice(src, i * PART, length)
        if not chunked:  # a body of known length, sent as a stream: Content-Length, no chunks
            body = _Sized(body, length)
        r = requests.post(link, data=body, timeout=600)
        r.raise_for_status()
    return time.perf_counter() - start


class _Sized:
    def __init__(self, chunks, length):
        self.chunks, self.len = chunks, length

    def __iter__(self):
        return iter(self.chunks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--chunked", action="store_true", help="send parts chunked, as OpenScan3")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; medians count")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1]) as tmp:
        tmp = Path(tmp)
        size = write_big_zip(tmp / "big.zip", args.size_mb * 1_000_000)
        (tmp / "server").mkdir()
        server = Server(tmp / "server", worker=False)
        disks, https = [], []
        try:
            for run in range(args.repeat):  # interleaved, so both see the same machine state
                disks.append(disk_write(tmp / "big.zip", tmp / "copy"))
                (tmp / "copy").unlink()
                https.append(upload(server, tmp / "big.zip", size, args.chunked, f"b{run}.zip"))
                server_blobs = tmp / "server" / "blobs" / "projects"
                for folder in server_blobs.iterdir():  # keep the disk as empty as for the copy
                    shutil.rmtree(folder)
        finally:
            server.stop()
    disk, http, mb = statistics.median(disks), statistics.median(https), size / 1e6
    print(f"{mb:.0f} MB: disk write {disk:.2f} s ({mb / disk:.0f} MB/s), "
          f"upload {http:.2f} s ({mb / http:.0f} MB/s)")
    print(f"upload throughput / disk write throughput = {disk / http:.2f}")


if __name__ == "__main__":
    main()
