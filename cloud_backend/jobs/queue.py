"""The job queue as rows of the ``jobs`` table: enqueue, claim, finish, estimate."""
import os
import socket
import statistics

from sqlalchemy import and_, func, or_, select, update

from ..models import Job, utcnow

RECENT = 20  # finished jobs the estimate learns from


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(session, worker):
    """Take the oldest queued job for ``worker``; None when the queue is empty. Safe against
    other workers: the conditional UPDATE lets only one of them win a given row."""
    while True:
        job_id = session.scalar(select(Job.id).where(Job.state == "queued")
                                .order_by(Job.queued, Job.id).limit(1))
        if job_id is None:
            return None
        won = session.execute(
            update(Job).where(Job.id == job_id, Job.state == "queued")
            .values(state="running", worker=worker, started=utcnow(), heartbeat=utcnow(),
                    attempts=Job.attempts + 1)
        ).rowcount
        session.commit()
        if won:
            return session.get(Job, job_id)


def claim_job(session, job_id, worker, stale_after):
    """Claim one given job (a Celery delivery): queued, or running with a stale heartbeat
    (its worker died). False when it is done, cancelled or alive elsewhere."""
    cutoff = utcnow() - stale_after
    won = session.execute(
        update(Job).where(Job.id == job_id, or_(
            Job.state == "queued",
            and_(Job.state == "running", func.coalesce(Job.heartbeat, Job.started) < cutoff)))
        .values(state="running", worker=worker, started=utcnow(), heartbeat=utcnow(),
                attempts=Job.attempts + 1)).rowcount
    return bool(won)


def stale_jobs(session, stale_after):
    """Running jobs whose worker stopped beating (killed outright, machine gone)."""
    cutoff = utcnow() - stale_after
    return session.scalars(select(Job.id).where(
        Job.state == "running", func.coalesce(Job.heartbeat, Job.started) < cutoff)).all()


def requeue_orphans(session, alive):
    """Put back jobs whose worker is gone (a crash or power cut): they resume where they were.
    ``alive(worker_name)`` says whether a worker process still exists."""
    orphans = session.scalars(select(Job).where(Job.state == "running")).all()
    for job in orphans:
        if not alive(job.worker):
            job.state, job.worker = "queued", ""
    return [j for j in orphans if j.state == "queued"]


def estimate(session, settings):
    """Seconds until a job queued now would finish: the running jobs' remaining time plus the
    queued ones and itself, each taking the median of recent durations."""
    finished = session.execute(
        select(Job.started, Job.finished).where(Job.state == "done", Job.started.is_not(None))
        .order_by(Job.finished.desc()).limit(RECENT)).all()
    typical = (statistics.median((f - s).total_seconds() for s, f in finished)
               if finished else settings["DEFAULT_JOB_SECONDS"])
    queued = session.scalar(select(func.count()).select_from(Job).where(Job.state == "queued"))
    started = session.scalars(select(Job.started).where(Job.state == "running")).all()
    now = utcnow()
    remaining = sum(max(typical - (now - s).total_seconds(), 0.0) for s in started if s)
    return {"estimated_time_seconds": round(remaining + (queued + 1) * typical, 1),
            "queued": queued, "running": len(started)}
