"""The embedded worker: takes queued jobs one at a time and runs each in a child process, so a
job can be killed (resetProject) without taking the worker down, and a crash costs one job."""
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

import psutil

from .. import config, projects
from ..db import Database
from ..models import Job
from . import queue, runner

log = logging.getLogger(__name__)


def _alive(worker):
    """Whether the worker process named "host:pid" still exists (only knowable on this host)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's worker: not ours to judge
    try:  # a killed worker may linger as a zombie where nothing reaps it: that is not alive
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Worker:
    def __init__(self, settings, poll_seconds=1.0):
        self.settings, self.poll = settings, poll_seconds
        self.db = Database(settings["DATABASE_URL"])
        self.name = queue.worker_name()
        self.stopping = threading.Event()

    def run(self):
        """Work until stop() (or SIGTERM/SIGINT when run as the main program)."""
        with self.db.session() as session:
            for job in queue.requeue_orphans(session, _alive):
                log.info("job %s was interrupted; it resumes from its last finished stage", job.id)
        log.info("worker %s waiting for jobs", self.name)
        while not self.stopping.is_set():
            with self.db.session() as session:
                job = queue.claim(session, self.name)
                job_id = job.id if job else None
            if job_id is None:
                self.stopping.wait(self.poll)
            else:
                self._run_job(job_id)

    def stop(self):
        self.stopping.set()

    def _run_job(self, job_id):
        log.info("job %s started", job_id)
        with self.db.session() as session:
            folder = projects.work_dir(self.settings, session.get(Job, job_id).project)
        child = subprocess.Popen([sys.executable, "-m", "cloud_backend.jobs.runner", str(job_id)],
                                 env={**os.environ, **config.to_environ(self.settings)},
                                 start_new_session=True)  # its own group: kill takes it all
        while child.poll() is None:
            if self.stopping.wait(self.poll):
                self._kill(child)
                self._requeue(job_id)  # shut down mid-job: the next start resumes it
                return
            if not self._still_wanted(job_id):
                log.info("job %s cancelled", job_id)
                self._kill(child)
                shutil.rmtree(folder, ignore_errors=True)  # what the job wrote after the reset
                return
        if child.returncode != 0 and self._still_wanted(job_id):
            reason = (f"the job process died (signal {-child.returncode})" if child.returncode < 0
                      else f"the job process exited with status {child.returncode}")
            runner.fail(self.db, self.settings, job_id, reason)
        log.info("job %s ended with exit status %s", job_id, child.returncode)

    def _still_wanted(self, job_id):
        with self.db.session() as session:
            job = session.get(Job, job_id)
            return job is not None and job.state == "running"

    def _requeue(self, job_id):
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is not None and job.state == "running":
                job.state, job.worker = "queued", ""

    @staticmethod
    def _kill(child):
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
