"""Uploads through a proxy that cuts the connection at 10 random byte positions: `openscan
upload` completes without help, the server's zip is byte-identical to the local one, no part is
sent twice in full (tus resume from the server's offset), and the client's memory stays flat."""
import hashlib
import json
import os
import random
import subprocess
import sys
import time

import psutil
import pytest

from openscan_plugin.cloud.package import ScanPackage

from .conftest import FAST
from .cutproxy import CutProxy
from .test_upload_cli import server_zip_sha
from tests.backend.helpers import jpeg_head
from tests.backend.server import Server


def write_photos(folder, count, size):
    """Few large random-content files framed as JPEGs: cheap to make, incompressible."""
    folder.mkdir(parents=True)
    block = os.urandom(1 << 20)
    for i in range(count):
        with open(folder / f"scan_{i:04d}.jpg", "wb") as f:
            f.write(jpeg_head() + os.urandom(64))   # unique bytes per file
            left = size
            while left > 0:
                f.write(block[: min(left, len(block))][::-1] if i % 2 else block[: min(left, len(block))])
                left -= len(block)
            f.write(b"\xff\xd9")
    return folder


def upload_through_cuts(tmp_path, photo_count, photo_size, part_size, seed):
    photos = write_photos(tmp_path / "scan", photo_count, photo_size)
    local = ScanPackage.from_folder(photos, part_size)
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv", {**FAST, "PART_SIZE": part_size})
    rng = random.Random(seed)
    cuts = sorted(rng.randrange(1000, local.size) for _ in range(10))
    proxy = CutProxy(server.port, cuts)
    try:
        env = {**os.environ, "OPENSCAN_DATA_DIR": str(tmp_path / "rig"),
               "OPENSCAN_CONFIG": str(tmp_path / "rig.json")}
        (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"part_size": part_size}}))
        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "openscan_plugin.cli", "upload", str(photos),
                                 "--server", proxy.url, "--token", server.token()],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = 0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        out, err = proc.communicate()
        elapsed = time.monotonic() - start
        assert proc.returncode == 0, err[-3000:]
        rows = json.loads(subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "status", "--json"],
                                         env=env, capture_output=True, text=True).stdout)
        local_sha = hashlib.sha256()
        for chunk in local:
            local_sha.update(chunk)
        return dict(server=server, proxy=proxy, local=local, elapsed=elapsed, peak=peak,
                    row=rows[0], local_sha=local_sha.hexdigest(), photos=photos)
    finally:
        proxy.close()
        server.stop()


def check(run, part_size):
    local, proxy, row = run["local"], run["proxy"], run["row"]
    assert proxy.cuts_done == 10                       # all ten cuts really happened
    assert row["state"] == "done"
    assert server_zip_sha(run["server"]) == run["local_sha"]
    assert (run["photos"] / "model" / "model.obj").is_file()
    print(f"\nclient wrote {row['bytes_sent']} body bytes, {proxy.upstream_bytes} reached the proxy, "
          f"zip {local.size}")
    # what reached the server side of the cut (bodies, headers, polls, the bytes lost at each
    # cut) exceeds the zip by less than one part: no part went twice in full
    resent = proxy.upstream_bytes - local.size
    assert 0 <= resent < part_size, resent
    return resent


def test_cut_ten_times_small(tmp_path):
    # each cut loses what was in flight (socket buffers on both sides of the proxy, the server's
    # 1 MiB read in progress): up to ~1.7 MB a cut on a loaded machine, so the parts here are
    # larger than ten of those
    part = 24_000_000
    run = upload_through_cuts(tmp_path, photo_count=10, photo_size=4_000_000, part_size=part, seed=2)
    resent = check(run, part)
    print(f"\n{run['local'].size / 1e6:.0f} MB through 10 cuts in {run['elapsed']:.1f}s, "
          f"re-sent {resent} bytes, client peak RSS {run['peak'] / 1e6:.0f} MB")


@pytest.mark.slow
def test_one_gigabyte_cut_ten_times(tmp_path):
    part = 200_000_000
    run = upload_through_cuts(tmp_path, photo_count=20, photo_size=50_000_000, part_size=part, seed=5)
    resent = check(run, part)
    assert run["local"].size > 1_000_000_000 and run["local"].parts == 6
    assert run["peak"] < 100e6, run["peak"]            # constant memory on a 1 GB scan
    print(f"\n1 GB through 10 cuts: {run['elapsed']:.1f}s, {resent} bytes re-sent of "
          f"{run['local'].size}, client peak RSS {run['peak'] / 1e6:.0f} MB")
