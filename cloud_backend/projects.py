"""What the protocol endpoints do to projects, independent of HTTP."""
import math
import re
import secrets
import shutil
from pathlib import Path

from sqlalchemy import select

from . import archive
from .models import Job, Part, Project, utcnow

FINAL_STATES = ("processing done", "processing failed", "expired")
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


def find(session, token_row, name, missing_status=400):
    project = session.scalar(
        select(Project).where(Project.token_id == token_row.id, Project.name == name))
    if project is None:
        raise ProtocolError(f"unknown project {name!r}", status=missing_status)
    return project


def create(session, settings, token_row, name, photos, parts, filesize):
    if not _NAME.match(name) or name in (".", ".."):
        raise ProtocolError("project names are 1-255 characters without slashes or control characters")
    if photos < 1 or parts < 1 or filesize < 1:
        raise ProtocolError("photos, parts and filesize must be positive")
    if photos > token_row.limit_photos:
        raise ProtocolError(f"{photos} photos exceed this token's limit of {token_row.limit_photos}")
    if filesize > token_row.limit_filesize:
        raise ProtocolError(f"{filesize} bytes exceed this token's limit of "
                            f"{token_row.limit_filesize} bytes per project")
    if filesize > token_row.credit:
        raise ProtocolError(f"not enough credit: the project needs {filesize} bytes, "
                            f"the token has {token_row.credit} left")
    part_size = settings["PART_SIZE"]
    if parts != math.ceil(filesize / part_size):
        raise ProtocolError(f"{filesize} bytes make {math.ceil(filesize / part_size)} parts of "
                            f"at most {part_size} bytes, not {parts}")
    if session.scalar(select(Project.id).where(Project.token_id == token_row.id,
                                               Project.name == name)):
        raise ProtocolError(f"a project named {name!r} exists already; reset it to upload again")
    token_row.credit -= filesize
    project = Project(uid=secrets.token_hex(16), token_id=token_row.id, name=name, photos=photos,
                      parts=parts, filesize=filesize, part_size=part_size, charged=filesize)
    session.add(project)
    session.flush()
    return project


def reset(session, settings, store, project):
    """Forget the project and its data; credit comes back unless a model was delivered.
    A running job sees its row gone and is stopped by its worker."""
    if project.status != "processing done":
        project.token.credit += project.charged
    store.delete_prefix(f"projects/{project.uid}/")
    shutil.rmtree(work_dir(settings, project), ignore_errors=True)
    session.delete(project)


def missing_parts(project):
    arrived = {p.index for p in project.uploaded_parts}
    return [i for i in range(project.parts) if i not in arrived]


def start(session, store, settings, project):
    """Validate the uploaded zip across its parts and queue the project."""
    if project.status in ("initialized", "processing"):
        return  # already queued or running: a retried request changes nothing
    if project.status == "processing done" or project.status == "expired":
        raise ProtocolError(f"the project is {project.status}; reset it to process it again")
    missing = missing_parts(project)
    if missing:
        raise ProtocolError(f"not all parts have arrived: missing part(s) "
                            f"{', '.join(map(str, missing[:20]))} of {project.parts}")
    with archive.PartsReader(store, [part_key(project, i) for i in range(project.parts)]) as zf:
        try:
            contents = archive.validate(
                zf, project.token.limit_photos, settings["MAX_IMAGE_BYTES"],
                settings["MAX_COMPRESSION_RATIO"])
        except archive.ArchiveError as e:
            raise ProtocolError(str(e)) from None
    project.photos = len(contents.images)
    set_status(project, "initialized", stage="queued", progress=0)
    session.add(Job(project=project))


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
