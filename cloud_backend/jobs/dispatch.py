"""How queued jobs reach a worker, chosen once from JOB_QUEUE by `job_queue(settings)` (the app
factory and the CLI each call it once): the embedded worker claims rows of the jobs table by
itself; Celery gets a task message per job."""
import signal
from pathlib import Path


class EmbeddedQueue:
    """`openscan-cloud worker` (or the one `serve` starts) polls the jobs table."""
    runs_inside_serve = True

    def __init__(self, settings):
        self.settings = settings

    def enqueue(self, db, job_id):
        """Nothing to send: the worker claims the job's row."""

    def cancel(self, task_id):
        """Nothing to take back: a running job's supervisor sees its row gone."""

    def run_worker(self):
        from .worker import Worker
        worker = Worker(self.settings)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: worker.stop())
        worker.run()

    def run_beat(self):
        raise ValueError("beat is for JOB_QUEUE=celery; the embedded worker does this itself")


class CeleryQueue:
    """Celery workers on a broker (Redis); `beat` runs the periodic sweeps."""
    runs_inside_serve = False

    def __init__(self, settings):
        self.settings = settings

    def enqueue(self, db, job_id):
        from .celery_app import send
        send(self.settings, db, job_id)

    def cancel(self, task_id):
        """Drop a job's task if it is still waiting; a running one is stopped by its
        supervisor, which sees the job row gone."""
        if task_id:
            from .celery_app import revoke
            revoke(self.settings, task_id)

    def run_worker(self):
        from .celery_app import worker_main
        worker_main(self.settings)

    def run_beat(self):
        from .celery_app import make_app
        make_app(self.settings).Beat(loglevel="INFO", schedule=str(
            Path(self.settings["DATA_DIR"]) / "celerybeat-schedule")).run()


QUEUES = {"embedded": EmbeddedQueue, "celery": CeleryQueue}


def job_queue(settings):
    mode = settings["JOB_QUEUE"]
    if mode not in QUEUES:
        raise ValueError(f"JOB_QUEUE must be one of {', '.join(QUEUES)}, not {mode!r}")
    return QUEUES[mode](settings)
