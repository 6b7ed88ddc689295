"""What is kept of a project's photos: without the user's consent they go PHOTO_GRACE_HOURS
after the result's first download (the result zip itself stays until the project expires);
with consent they stay until expiry, for the operator to export (`project export --consented`).

Delivery is the first download of ``dlink`` that the server starts answering (a redirect to
object storage counts): whether the client received every byte cannot be observed, and a rig
that lost the download can re-fetch within the grace period."""
import json
import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from openscan_protocol import status as project_status

from . import archive, projects, scan_options
from .models import Project, utcnow


def mark_delivered(session, project):
    """The first download of the result starts now (later ones change nothing)."""
    if project.delivered is None:
        session.execute(update(Project).where(Project.id == project.id, Project.delivered.is_(None))
                        .values(delivered=utcnow()).execution_options(synchronize_session=False))


def delete_delivered_photos(session, settings, store):
    """Delete the parts and work folder of unconsented projects delivered more than
    PHOTO_GRACE_HOURS ago; returns their names. Each project is claimed with a conditional
    UPDATE, so a rerunProject at the same moment either queues first (and keeps them) or gets 409."""
    cutoff = utcnow() - timedelta(hours=settings["PHOTO_GRACE_HOURS"])
    due = session.scalars(select(Project).where(
        Project.consent.is_(False), Project.photos_deleted.is_(None),
        Project.status == project_status.DONE, Project.delivered.is_not(None),
        Project.delivered <= cutoff)).all()
    gone = []
    for project in due:
        claimed = session.execute(update(Project).where(
            Project.id == project.id, Project.photos_deleted.is_(None),
            Project.status == project_status.DONE, Project.consent.is_(False))
            .values(photos_deleted=utcnow()).execution_options(synchronize_session=False)).rowcount
        if claimed:
            projects.after_commit(session, store.delete_prefix, f"projects/{project.uid}/parts/")
            projects.after_commit(session, shutil.rmtree, projects.work_dir(settings, project),
                                  ignore_errors=True)
            gone.append(project.name)
    return gone


def housekeeping(session, settings, store):
    """The periodic sweep: expire old projects, delete delivered photos. Returns both lists."""
    return projects.expire_old(session, settings, store), delete_delivered_photos(session, settings, store)


def consented(session):
    return session.scalars(select(Project).where(Project.consent.is_(True)).order_by(Project.id)).all()


def export(settings, store, project, dest):
    """Copy a consented project into ``dest/<id>-<name>/``: photos.zip (the parts reassembled),
    result.zip when done, options.json. Returns the folder."""
    folder = Path(dest) / f"{project.id}-{project.name.removesuffix('.zip')}"
    folder.mkdir(parents=True, exist_ok=True)
    keys = [projects.part_key(project, i) for i in range(project.parts)]
    if project.photos_deleted is None and all(store.size(k) is not None for k in keys):
        with archive.PartsReader(store, keys) as source, open(folder / "photos.zip", "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    if project.status == project_status.DONE and store.size(projects.result_key(project)) is not None:
        with store.open(projects.result_key(project)) as source, open(folder / "result.zip", "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    (folder / "options.json").write_text(json.dumps({
        "project": project.name, "uid": project.uid, "token_id": project.token_id,
        "status": project.status, "photos": project.photos, "filesize": project.filesize,
        "created": project.created.isoformat(), "options": scan_options.effective(settings, project),
    }, indent=2, sort_keys=True) + "\n")
    return folder
