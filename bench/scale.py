"""N projects through the scaled-out backend (API + Celery workers on PostgreSQL, Redis and S3,
all real servers on loopback) with 1 worker and with 2, printed as a ratio of wall times.

    python bench/scale.py [--projects 4] [--real]

By default each job is tests/backend/fake_pipeline.py (4 stages of FAKE_STAGE_SECONDS sleep), so
the ratio shows what the queue, the workers and the storage add around the work; --real runs the
reconstruction on a small rendered scan, where 2 workers share this machine's cores.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.backend.helpers import Client, make_zip  # noqa: E402
from tests.backend.test_jobs import done, watch  # noqa: E402
from tests.scale import services  # noqa: E402

FAST = {"mesh_faces": 5000, "texture_size": 512, "poisson_depth": 8, "max_image_size": 800,
        "preview_size": 320}


def run(infra, folder, workers, projects, data, real):
    settings = {"STALE_JOB_SECONDS": 60, "PART_SIZE": 200_000_000}
    settings.update({"RECONSTRUCTION_OPTIONS": FAST} if real else
                    {"PIPELINE": "tests.backend.fake_pipeline"})
    cluster = services.Cluster(folder, *infra, settings=settings, workers=workers,
                               env={"FAKE_STAGE_SECONDS": "2"})
    try:
        client = Client(cluster.api.url, cluster.api.token())
        start = time.perf_counter()
        names = [f"bench{i}.zip" for i in range(projects)]
        for name in names:
            assert client.upload_all(name, data, 200_000_000, photos=36).status_code == 200
        for name in names:
            assert watch(client, name, done, timeout=3600)[-1]["status"] == "processing done"
        return time.perf_counter() - start
    finally:
        cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=4)
    parser.add_argument("--real", action="store_true", help="the real reconstruction")
    args = parser.parse_args()
    if services.missing():
        sys.exit(services.missing())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.real:
            from cloud_backend.reconstruct import synthetic
            data = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="full")[0].getvalue()
        else:
            data = make_zip(tmp / "s.zip", photos=36, size=(320, 240)).read_bytes()
        infra = services.Redis(tmp), services.Postgres(), services.S3()
        try:
            one = run(infra, tmp / "one", 1, args.projects, data, args.real)
            two = run(infra, tmp / "two", 2, args.projects, data, args.real)
        finally:
            infra[2].stop()
            infra[1].remove()
            infra[0].stop()
    print(f"{args.projects} projects ({'real' if args.real else 'fake'} pipeline): "
          f"1 worker {one:.1f} s, 2 workers {two:.1f} s")
    print(f"speed-up with 2 workers = {one / two:.2f}x")


if __name__ == "__main__":
    main()
