"""Run one claimed job in a child process and watch it: heartbeats while it runs, kill it when
the job is cancelled (its row is gone after resetProject) or the worker stops, and record a
death the job could not report itself. Used by the embedded worker and by the Celery task."""
import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from sqlalchemy.exc import OperationalError

from .. import config, lifeline, projects, webhooks
from ..links import LinkSigner
from ..storage import open_store
from ..db import retry
from ..models import Job, utcnow
from . import runner

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5.0


def _die_with_parent(parent_pid):
    """In the child: get SIGTERM when the supervising process dies (kill -9 of a worker must not
    leave an orphan job that a redelivered copy would race); the runner then kills its group."""
    lifeline.die_with_parent(parent_pid)
    os.setsid()  # its own process group: one kill takes the job and anything it started


def supervise(settings, db, job_id, stopping, poll=1.0):
    """Run job ``job_id`` (already claimed) to its end. Returns "done", "failed", "cancelled" or
    "requeued" (``stopping`` was set: the job goes back to the queue and resumes later)."""
    with db.session() as session:
        folder = projects.work_dir(settings, session.get(Job, job_id).project)
    child = subprocess.Popen([sys.executable, "-m", "cloud_backend.jobs.runner", str(job_id)],
                             env={**os.environ, **config.to_environ(settings)},
                             preexec_fn=functools.partial(_die_with_parent, os.getpid()))
    last_beat = 0.0
    while child.poll() is None:
        if stopping.wait(poll):
            _kill(child)
            retry(lambda: _requeue(db, job_id), "requeueing a job")
            return "requeued"
        state = _state(db, job_id)
        if state in ("done", "failed"):  # recorded by the job itself, which is exiting now
            continue
        if state is not None and state != "running":
            log.info("job %s cancelled", job_id)
            _kill(child)
            shutil.rmtree(folder, ignore_errors=True)  # what the job wrote after the reset
            return "cancelled"
        if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
            last_beat = time.monotonic() if _beat(db, job_id) else last_beat
    if child.returncode != 0 and _state(db, job_id) == "running":
        reason = (f"the job process died (signal {-child.returncode})" if child.returncode < 0
                  else f"the job process exited with status {child.returncode}")
        retry(lambda: runner.fail(db, settings, job_id, reason), "recording a failure")
    # in a background thread: a slow or dead receiver holds up neither the status nor the queue
    webhooks.after_job(settings, db, open_store(settings), LinkSigner(settings["SECRET_KEY"]), job_id)
    return "done" if child.returncode == 0 else "failed"


def _state(db, job_id):
    """The job's state; "gone" once reset deleted it; None while the database is unreachable
    (a restart of the database must not kill the job)."""
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            return job.state if job is not None else "gone"
    except OperationalError:
        return None


def _beat(db, job_id):
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.heartbeat = utcnow()
        return True
    except OperationalError:
        return False


def _requeue(db, job_id):
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is not None and job.state == "running":
            job.state, job.worker = "queued", ""


def _kill(child):
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()
