"""Jobs on Celery workers (Redis broker) for a backend spread over machines.

One job per worker process at a time; late acknowledgement and reject-on-worker-lost so a job
whose worker dies is delivered again. The database stays the truth: a task first claims its
job row, so a duplicate delivery of a job that is alive elsewhere (fresh heartbeat) does nothing,
and a periodic sweep re-sends jobs whose heartbeat went stale (a worker killed outright).
"""
import functools
import logging
import os
import socket
import threading
from datetime import timedelta

from celery import Celery
from celery.signals import worker_shutting_down
from .. import consent
from ..db import Database
from ..models import Job
from ..storage import open_store
from . import queue, supervisor

log = logging.getLogger(__name__)
DEFAULT_QUEUE = "openscan"
_stopping = threading.Event()


def make_app(settings):
    app = Celery("openscan_cloud", broker=settings["CELERY_BROKER_URL"])
    app.conf.update(
        task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE, worker_concurrency=1, broker_connection_retry_on_startup=True,
        # the sweep below, not the broker's timeout, brings back jobs of dead workers
        broker_transport_options={"visibility_timeout": 12 * 3600},
        worker_hijack_root_logger=False,
        beat_schedule={
            "requeue-stale-jobs": {"task": "openscan.requeue_stale",
                                   "schedule": max(settings["STALE_JOB_SECONDS"] / 2, 1.0)},
            "expire-projects": {"task": "openscan.expire_projects", "schedule": settings["HOUSEKEEPING_SECONDS"]},
        })
    app.conf.openscan_settings = settings

    @functools.cache
    def database():
        # one engine (and connection pool) per process, made on first use so each
        # forked worker child gets its own; the sweep runs every 30 s
        return Database(settings["DATABASE_URL"])

    @app.task(name="openscan.run_job")
    def run_job(job_id):
        db = database()
        with db.session() as session:
            claimed = queue.claim_job(session, job_id, queue.worker_name(),
                                      timedelta(seconds=settings["STALE_JOB_SECONDS"]))
        if not claimed:
            log.info("job %s is done, cancelled or alive elsewhere: nothing to do", job_id)
            return "skipped"
        return supervisor.supervise(settings, db, job_id, _stopping)

    @app.task(name="openscan.requeue_stale")
    def requeue_stale():
        db = database()
        with db.session() as session:
            stale = queue.stale_jobs(session, timedelta(seconds=settings["STALE_JOB_SECONDS"]))
        for job_id in stale:
            log.info("job %s lost its worker; sending it again", job_id)
            send(settings, db, job_id)
        return stale

    @app.task(name="openscan.expire_projects")
    def expire_projects():
        db = database()
        with db.session() as session:
            expired, cleared = consent.housekeeping(session, settings, open_store(settings))
            return expired + cleared

    return app


@worker_shutting_down.connect
def _stop_jobs(**_):
    _stopping.set()  # a warm shutdown puts the running job back in the queue


_apps = {}


def _app(settings):
    """One client app per broker for sending and revoking (keeps its connection pool)."""
    broker = settings["CELERY_BROKER_URL"]
    if broker not in _apps:
        _apps[broker] = make_app(settings)
    return _apps[broker]


def send(settings, db, job_id):
    with db.session() as session:
        job = session.get(Job, job_id)
        route = settings["GPU_QUEUE"] or DEFAULT_QUEUE
        job.task_id = _app(settings).send_task("openscan.run_job", args=[job_id], queue=route).id
        log.info("job %s of %s sent to queue %s", job_id, job.project.name, route)


def revoke(settings, task_id):
    _app(settings).control.revoke(task_id)


def worker_main(settings):
    """`openscan-cloud worker` with JOB_QUEUE=celery: this machine takes the GPU queue too if it
    has CUDA."""
    queues = [DEFAULT_QUEUE]
    if settings["GPU_QUEUE"] and _has_cuda():
        queues.insert(0, settings["GPU_QUEUE"])
    argv = ["worker", "--concurrency=1", f"--queues={','.join(queues)}", "--loglevel=INFO",
            f"--hostname=openscan-{os.getpid()}@{socket.gethostname()}"]
    make_app(settings).worker_main(argv)


def _has_cuda():
    try:
        import pycolmap
        return bool(pycolmap.has_cuda)
    except ImportError:
        return False
