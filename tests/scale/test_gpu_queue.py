"""Which Celery queues a worker takes: the GPU queue only where CUDA is, when one is configured."""
import pytest

celery_app = pytest.importorskip("cloud_backend.jobs.celery_app")


@pytest.mark.parametrize("gpu_queue, cuda, expected", [
    (None, True, "openscan"), ("gpu", False, "openscan"), ("gpu", True, "gpu,openscan")])
def test_worker_queues(monkeypatch, gpu_queue, cuda, expected):
    started = []
    monkeypatch.setattr(celery_app, "_has_cuda", lambda: cuda)
    monkeypatch.setattr(celery_app.Celery, "worker_main", lambda app, argv: started.append(argv))
    celery_app.worker_main({"CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "GPU_QUEUE": gpu_queue,
                            "STALE_JOB_SECONDS": 60, "HOUSEKEEPING_SECONDS": 3600, "DATABASE_URL": "sqlite://"})
    [argv] = started
    assert f"--queues={expected}" in argv and "--concurrency=1" in argv
