"""A 1 GB project (5 full parts and a short one) in constant server memory."""
import math

import pytest
import requests

from .helpers import Client, file_slice, write_big_zip

PART = 200_000_000
LIMIT_MB = 150


def peak_rss_mb(pid):
    """Peak resident memory (VmHWM) of each process in the server's tree, in MB."""
    import psutil
    peaks = {}
    for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with open(f"/proc/{p.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
        peaks[f"{p.pid} {' '.join(p.cmdline()[1:4])}"] = kb / 1024
    return peaks


@pytest.mark.slow
def test_one_gigabyte_upload_in_constant_memory(start_server, tmp_path):
    size = write_big_zip(tmp_path / "big.zip", 1_050_000_000)
    assert math.ceil(size / PART) == 6 and size % PART  # 5 full parts and a short one
    server = start_server(worker=False)
    client = Client(server.url, server.token())
    r = client.call("createProject", project="big.zip", photos=20, parts=6, filesize=size)
    links = r.json()["ulink"]
    for i, link in enumerate(links):
        length = min(PART, size - i * PART)
        r = requests.post(link, data=file_slice(tmp_path / "big.zip", i * PART, length),
                          headers={"Content-Type": "application/octet-stream"}, timeout=300)
        assert r.status_code == 200 and r.json()["size"] == length, r.text
    r = client.call("startProject", project="big.zip")
    assert r.status_code == 200, r.text  # the zip was read and checked across all six parts

    peaks = peak_rss_mb(server.process.pid)
    print("peak RSS per server process (MB):", peaks)
    assert max(peaks.values()) < LIMIT_MB, peaks
