"""One job, run in its own process by a worker: from the stored parts to the stored result.

``python -m cloud_backend.jobs.runner JOB_ID`` with the settings in the environment. The worker
kills the whole process group to cancel, so nothing here needs to poll for cancellation.
"""
import importlib
import logging
import os
import signal
import sys
import time

from sqlalchemy.exc import OperationalError

from openscan_protocol import status as project_status

from .. import archive, config, mail, projects, scan_options
from ..db import Database, retry
from ..models import Job, utcnow
from ..storage import open_store

log = logging.getLogger(__name__)
PROGRESS_INTERVAL = 1.0  # seconds between progress writes to the database


class ProgressRecorder:
    """Store (stage, percent) in the project row, at most once a second and never backwards."""

    def __init__(self, db, project_id):
        self.db, self.project_id = db, project_id
        self.last_write, self.stage, self.percent = 0.0, None, 0.0

    def __call__(self, stage, fraction):
        percent = max(self.percent, min(100.0, 100.0 * fraction))
        now = time.monotonic()
        if stage == self.stage and now - self.last_write < PROGRESS_INTERVAL:
            self.percent = percent
            return
        self.stage, self.percent, self.last_write = stage, percent, now
        try:
            with self.db.session() as session:
                project = session.get(projects.Project, self.project_id)
                projects.set_status(project, project_status.PROCESSING, stage=stage, progress=percent)
        except OperationalError:  # the database is restarting: the next update will tell
            log.warning("could not record progress %s %.0f%%", stage, percent)


def run(settings, job_id):
    db, store = Database(settings["DATABASE_URL"]), open_store(settings)
    with db.session() as session:
        job = session.get(Job, job_id)
        project = job.project
        project_id, keys = project.id, [projects.part_key(project, i) for i in range(project.parts)]
        limits = archive.rules(settings, project.token.limit_photos)
        result_key, folder = projects.result_key(project), projects.work_dir(settings, project)
        options = scan_options.pipeline(settings, project)
        projects.set_status(project, project_status.PROCESSING, stage="starting", error="")
    progress = ProgressRecorder(db, project_id)
    try:
        with archive.PartsReader(store, keys) as zip_file:
            # startProject checked only the zip's directory, so that it answers at once; every
            # byte is checked here, with the same rules, before any of it is used.
            progress("checking", 0.0)
            archive.validate(zip_file, **limits)
            zip_file.seek(0)
            pipeline = importlib.import_module(settings["PIPELINE"])  # heavy: only in this process
            result = pipeline.run(zip_file, folder, options, progress)
        store.put_file(result_key, result)
    except Exception as e:  # any failure ends the job; the reason goes to the user
        log.exception("job %s failed", job_id)
        reason = str(e) or type(e).__name__
        retry(lambda: _finish(db, settings, job_id, "failed", reason), "recording a failure")
        return 1
    # the work folder stays: a rerunProject with other options redoes only the stages they
    # change; reset, expiry and the photo housekeeping (consent.py) delete it
    retry(lambda: _finish(db, settings, job_id, "done"), "recording a result")
    return 0


def fail(db, settings, job_id, reason):
    """Mark a job failed from outside its process (it died)."""
    _finish(db, settings, job_id, "failed", reason)


def _finish(db, settings, job_id, state, error=""):
    with db.session() as session:
        job = session.get(Job, job_id)
        if job is None:  # the project was reset meanwhile
            return
        job.state, job.finished = state, utcnow()
        project = job.project
        if state == "done":
            projects.set_status(project, project_status.DONE, stage="done", progress=100, error="")
            project.charged = 0  # delivered: the credit is spent for good
        else:
            projects.set_status(project, project_status.FAILED, error=error)
        to, name = project.token.mail, project.name
        notify = scan_options.wants_mail(project)
    if not notify:
        return
    if state == "done":
        mail.send(settings, to, f"Your 3D model {name} is ready",
                  f"OpenScan Cloud has finished {name}. Your rig or uploader can download it now.")
    else:
        mail.send(settings, to, f"Processing {name} failed",
                  f"OpenScan Cloud could not process {name}:\n\n{error}\n")


def _end_process_group(*_):
    """SIGTERM (the supervisor died or stops us): end this job and every process it started."""
    os.killpg(0, signal.SIGKILL)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(asctime)s job %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, _end_process_group)
    argv = sys.argv[1:] if argv is None else argv
    return run(config.load(), int(argv[0]))


if __name__ == "__main__":
    sys.exit(main())
