"""What the protocol endpoints do to projects, independent of HTTP."""
import logging
import math
import re
import secrets
import shutil
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event, select, update
from sqlalchemy.exc import IntegrityError

from openscan_protocol import status as project_status

from . import archive, credit, split
from .models import Job, Part, Project, utcnow

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")


class ProtocolError(Exception):
    """A request the protocol refuses; ``status`` is the HTTP status the field clients expect."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = message, status


def part_key(project, index):
    return f"projects/{project.uid}/parts/{index:05d}"


def result_key(project):
    return f"projects/{project.uid}/result.zip"


def work_dir(settings, project):
    """Where the job unpacks and reconstructs; kept between runs so a job resumes."""
    return Path(settings["DATA_DIR"]) / "work" / project.uid


def result_name(project):
    """The file name a user's download gets: owl.zip -> owl-model.zip."""
    return project.name.removesuffix(".zip") + "-model.zip"


def find(session, token_row, name, missing_status=400):
    project = session.scalar(
        select(Project).where(Project.token_id == token_row.id, Project.name == name))
    if project is None:
        raise ProtocolError(f"unknown project {name!r}", status=missing_status)
    return project


def create(session, settings, store, token_row, name, photos, parts, filesize):
    if not _NAME.match(name) or name in (".", ".."):
        raise ProtocolError("project names are 1-255 characters without slashes or control characters")
    if photos < 1 or parts < 1 or filesize < 1:
        raise ProtocolError("photos, parts and filesize must be positive")
    if photos > token_row.limit_photos:
        raise ProtocolError(f"{photos} photos exceed this token's limit of {token_row.limit_photos}")
    if filesize > token_row.limit_filesize:
        raise ProtocolError(f"{filesize} bytes exceed this token's limit of "
                            f"{token_row.limit_filesize} bytes per project")
    limit = settings["PART_SIZE"]
    if split.slice_sizes(filesize, parts, limit) is None:
        raise ProtocolError(f"{filesize} bytes cannot be cut into {parts} parts of at most {limit} "
                            f"bytes each (all but the last of one size; at least "
                            f"{math.ceil(filesize / limit)} parts)")
    if parts > split.MAX_PARTS:
        raise ProtocolError(f"at most {split.MAX_PARTS} parts per project, not {parts}: send the "
                            "same bytes in fewer, larger parts")
    part_size = split.known_size(filesize, parts, limit)
    existing = session.scalar(select(Project).where(Project.token_id == token_row.id,
                                                    Project.name == name))
    if existing is not None:
        return _recreate(session, store, token_row, existing, photos, parts, filesize, part_size)
    if not credit.spend(session, token_row, filesize):
        raise _no_credit(token_row, filesize)
    project = Project(uid=secrets.token_hex(16), token_id=token_row.id, name=name, photos=photos,
                      parts=parts, filesize=filesize, part_size=part_size, charged=filesize)
    session.add(project)
    try:
        session.flush()
    except IntegrityError:  # the same name created by a request that committed meanwhile
        raise _raced() from None
    return project


def _raced():
    return ProtocolError("the project was created, started or reset by another request at the "
                         "same time; ask again", status=409)


def _no_credit(token_row, needed):
    return ProtocolError(f"not enough credit: the project needs {needed} bytes, "
                         f"the token has {token_row.credit} left")


def _recreate(session, store, token_row, project, photos, parts, filesize, part_size):
    """createProject for a name that exists: how OpenScan2 re-sends a set after a failed upload
    (it never calls resetProject). Allowed while nothing has started; the project takes the new
    size, the credit moves by the difference, and the parts received are kept when the slicing
    is unchanged (a part sent again replaces its old bytes), dropped otherwise."""
    if project.status != project_status.CREATED:
        raise ProtocolError(f"a project named {project.name!r} exists already "
                            f"({project.status}); reset it to upload again")
    charged = project.charged
    if not credit.claim_charge(session, project, charged, filesize, status=project_status.CREATED):
        raise _raced()
    if filesize > charged and not credit.spend(session, token_row, filesize - charged):
        raise _no_credit(token_row, filesize - charged)  # the claim is rolled back with it
    if filesize < charged:
        credit.refund(session, token_row, charged - filesize)
    # 0 = the slice size is not known from the numbers alone: the size learned from the parts
    # already received still holds if the set's numbers are the same
    same_slicing = (parts, filesize) == (project.parts, project.filesize) and part_size in (0, project.part_size)
    if not same_slicing:
        for part in list(project.uploaded_parts):
            session.delete(part)
        after_commit(session, store.delete_prefix, f"projects/{project.uid}/parts/")
        project.part_size = part_size
    project.photos, project.parts, project.filesize = photos, parts, filesize
    set_status(project, project_status.CREATED)
    session.flush()
    return project


def reset(session, settings, store, project):
    """Forget the project and its data; credit comes back unless a model was delivered (then
    ``charged`` is 0). A running job sees its row gone and is stopped by its worker. Returns the
    task ids of its jobs, for the job queue to drop."""
    charged = project.charged
    if not credit.claim_charge(session, project, charged):
        raise _raced()  # another reset (or the job delivering) got there first: no second refund
    if charged:
        credit.refund(session, project.token, charged)
    task_ids = [job.task_id for job in project.jobs if job.task_id]
    after_commit(session, store.delete_prefix, f"projects/{project.uid}/")
    after_commit(session, shutil.rmtree, work_dir(settings, project), ignore_errors=True)
    session.delete(project)
    return task_ids


def after_commit(session, action, *args, **kwargs):
    """Delete files only once the database agrees they are gone: a request refused or failed
    after this point rolls back and leaves rows and files matching. A failure here leaves only
    garbage, so it is logged, not raised."""
    def run(_session):
        try:
            action(*args, **kwargs)
        except Exception:
            log.exception("could not remove the files of a changed project")
    event.listen(session, "after_commit", run, once=True)


def expire_old(session, settings, store):
    """Projects untouched for PROJECT_MAX_AGE_DAYS become ``expired`` and their data goes."""
    cutoff = utcnow() - timedelta(days=settings["PROJECT_MAX_AGE_DAYS"])
    old = session.scalars(select(Project).where(
        Project.updated < cutoff, Project.status.not_in(
            (project_status.EXPIRED, project_status.INITIALIZED, project_status.PROCESSING)))).all()
    for project in old:
        store.delete_prefix(f"projects/{project.uid}/")
        shutil.rmtree(work_dir(settings, project), ignore_errors=True)
        set_status(project, project_status.EXPIRED, stage="", progress=0)
    return [p.name for p in old]


def missing_parts(project):
    arrived = {p.index for p in project.uploaded_parts}
    return [i for i in range(project.parts) if i not in arrived]


def start(session, store, settings, project):
    """Check the zip's directory and queue the project; returns the new job's id (None when it
    was queued already). The job checks every byte (archive.validate) before using any: reading
    2 GB here would keep the client waiting past its timeout."""
    if project.status in (project_status.INITIALIZED, project_status.PROCESSING):
        return None  # already queued or running: a retried request changes nothing
    if project.status == project_status.DONE or project.status == project_status.EXPIRED:
        raise ProtocolError(f"the project is {project.status}; reset it to process it again")
    if project.direct_upload:
        _adopt_direct_parts(session, store, settings, project)
    missing = missing_parts(project)
    if missing:
        raise ProtocolError(f"not all parts have arrived: missing part(s) "
                            f"{', '.join(map(str, missing[:20]))} of {project.parts}")
    with archive.PartsReader(store, [part_key(project, i) for i in range(project.parts)]) as zf:
        try:
            with archive.Upload(zf, **archive.rules(settings, project.token.limit_photos)) as upload:
                photos = len(upload.photos)
                if upload.manifest is not None:  # one small entry: a broken one is a 400 now, not a failed job
                    upload.read(upload.manifest)
        except archive.ArchiveError as e:
            raise ProtocolError(str(e)) from None
    # One conditional write: it waits for a part being committed (uploads.committing holds the
    # same row) and, once done, no part can commit any more, so the job reads what is here now.
    queued = session.execute(
        update(Project).where(Project.id == project.id,
                              Project.status.in_((project_status.CREATED, project_status.FAILED)))
        .values(status=project_status.INITIALIZED, stage="queued", progress=0, error="", photos=photos,
                updated=utcnow())).rowcount
    if not queued:
        return None  # another startProject got there first
    job = Job(project=project)
    session.add(job)
    session.flush()
    return job.id


def rerun(session, project):
    """Queue a finished project again (new options already stored by the caller), from the
    parts it has. Credit: a re-run of a delivered model (``processing done``) costs its
    filesize again, held like a new project's charge; re-running a failed project is free (its
    charge is still held). One conditional UPDATE decides, so of two re-runs at once one queues
    and pays and the other gets 409. Returns the new job's id."""
    if project.status not in (project_status.DONE, project_status.FAILED):
        raise ProtocolError(f"the project is {project.status}; only a finished project "
                            f"({project_status.DONE} or {project_status.FAILED}) can run again",
                            status=409)
    if project.photos_deleted is not None:
        raise ProtocolError("the photos of this project were deleted after its result was "
                            "delivered (it was sent without consent to keep them); upload them "
                            "again as a new project", status=409)
    status, charged = project.status, project.charged
    charge = project.filesize if status == project_status.DONE else charged
    won = session.execute(
        update(Project).where(Project.id == project.id, Project.status == status,
                              Project.charged == charged, Project.photos_deleted.is_(None))
        .values(status=project_status.INITIALIZED, stage="queued", progress=0, error="",
                charged=charge, delivered=None, updated=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if not won:
        raise ProtocolError("the project was re-run, reset or cleaned up by another request at "
                            "the same time", status=409)
    if charge > charged and not credit.spend(session, project.token, charge - charged):
        raise _no_credit(project.token, charge - charged)  # rolls the claim back with it
    session.refresh(project)
    job = Job(project=project)
    session.add(job)
    session.flush()
    return job.id


def _adopt_direct_parts(session, store, settings, project):
    """Parts PUT straight into object storage are not seen by this server: take those that fit
    the split. (Their SHA-256 is not known; the job's check still reads every byte.)"""
    for index in missing_parts(project):
        size = store.size(part_key(project, index))
        try:
            split.accept(project, index, size or 0, settings["PART_SIZE"])
        except ValueError:
            continue
        record_part(session, project, index, size, "")
    session.flush()
    session.refresh(project)


def set_status(project, status, stage=None, progress=None, error=None):
    project.status = status
    if stage is not None:
        project.stage = stage
    if progress is not None:
        project.progress = progress
    if error is not None:
        project.error = error
    project.updated = utcnow()


def record_part(session, project, index, size, sha256):
    part = session.get(Part, (project.id, index))
    if part is None:
        session.add(Part(project_id=project.id, index=index, size=size, sha256=sha256))
    else:
        part.size, part.sha256, part.uploaded = size, sha256, utcnow()


def exists(db, project_id):
    with db.session() as session:
        return session.get(Project, project_id) is not None


