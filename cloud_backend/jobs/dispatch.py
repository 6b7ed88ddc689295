"""Hand a queued job to whatever runs jobs: the embedded worker finds it in the database by
itself; Celery gets a task message."""


def enqueue(settings, db, job_id):
    if settings["JOB_QUEUE"] == "celery":
        from .celery_app import send
        send(settings, db, job_id)


def cancel(settings, task_id):
    """Drop a job's task if it is still waiting; a running one is stopped by its supervisor,
    which sees the job row gone."""
    if settings["JOB_QUEUE"] == "celery" and task_id:
        from .celery_app import revoke
        revoke(settings, task_id)
