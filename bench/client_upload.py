"""Rig client upload throughput: a 1 GB scan folder streamed as a zip by `CloudClient` (no temp
zip, parts regenerated from the photos) vs `curl --data-binary` sending the same parts from
ready-made files, against the same `openscan-cloud serve` on loopback. Prints the ratio
(1.0 = as fast as curl) and the client's peak RSS.

    python bench/client_upload.py [--size-mb 1000] [--rounds 2]
"""
import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openscan_plugin.cloud.client import CloudClient  # noqa: E402
from openscan_plugin.cloud.package import ScanPackage  # noqa: E402
from tests.backend.server import Server  # noqa: E402
from tests.rig_upload.test_cut_upload import write_photos  # noqa: E402


def with_curl(server, token, package, part_files, name):
    client = CloudClient(server.url, token)
    links = client.create_project(name, package.photos, package.parts, package.size)
    start = time.perf_counter()
    for link, part in zip(links, part_files):
        subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-X", "POST", "-H",
                        "Content-Type: application/octet-stream", "--data-binary", f"@{part}", link], check=True)
    return time.perf_counter() - start


def with_client(server, token, package, name):
    client = CloudClient(server.url, token)
    links = client.create_project(name, package.photos, package.parts, package.size)
    start = time.perf_counter()
    for i, link in enumerate(links):
        client.upload_part(link, package, i)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = write_photos(tmp / "scan", 20, args.size_mb * 1_000_000 // 20)
        package = ScanPackage.from_folder(photos)
        part_files = []                                  # curl needs the parts as files
        for i in range(package.parts):
            part_files.append(tmp / f"part{i}")
            with open(part_files[-1], "wb") as f:
                for chunk in package.iter_part(i):
                    f.write(chunk)
        (tmp / "srv").mkdir()
        server = Server(tmp / "srv", {"PIPELINE": "tests.backend.fake_pipeline"}, worker=False)
        try:
            token = server.token(credit=10 ** 13, limit_filesize=10 ** 12)
            curl, ours = [], []
            for r in range(args.rounds):                 # interleaved: the machine's noise cancels
                curl.append(with_curl(server, token, package, part_files, f"curl-{r}.zip"))
                ours.append(with_client(server, token, package, f"client-{r}.zip"))
        finally:
            server.stop()
    mb = package.size / 1e6
    c, o = statistics.median(curl), statistics.median(ours)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{mb:.0f} MB in {package.parts} parts: curl {mb / c:.0f} MB/s, client {mb / o:.0f} MB/s "
          f"-> ratio {c / o:.2f} (client/curl throughput); bench process peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
