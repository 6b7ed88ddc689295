"""The embedded worker: takes queued jobs one at a time and runs each in a child process, so a
job can be killed (resetProject) without taking the worker down, and a crash costs one job."""
import logging
import socket
import threading
import time

import psutil

from .. import consent
from ..db import Database
from ..storage import open_store
from . import queue, supervisor

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
        next_expiry = 0.0
        while not self.stopping.is_set():
            if time.monotonic() > next_expiry:
                self._expire()
                next_expiry = time.monotonic() + self.settings["HOUSEKEEPING_SECONDS"]
            with self.db.session() as session:
                job = queue.claim(session, self.name)
                job_id = job.id if job else None
            if job_id is None:
                self.stopping.wait(self.poll)
            else:
                self._run_job(job_id)

    def _expire(self):
        with self.db.session() as session:
            expired, cleared = consent.housekeeping(session, self.settings, open_store(self.settings))
        if expired:
            log.info("expired %d old projects: %s", len(expired), ", ".join(expired))
        if cleared:
            log.info("deleted the delivered photos of %d projects: %s", len(cleared), ", ".join(cleared))

    def stop(self):
        self.stopping.set()

    def _run_job(self, job_id):
        log.info("job %s started", job_id)
        outcome = supervisor.supervise(self.settings, self.db, job_id, self.stopping, self.poll)
        log.info("job %s %s", job_id, outcome)
