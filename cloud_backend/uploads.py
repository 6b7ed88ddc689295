"""Receiving one part: a whole body (POST/PUT, as the field clients send it) or the rest of an
interrupted one (tus 1.0 core: HEAD tells the offset, PATCH appends from it)."""
from contextlib import contextmanager

from sqlalchemy import update
from werkzeug.exceptions import HTTPException

from openscan_protocol import status as project_status

from . import projects, split
from .models import Part, Project, utcnow
from .projects import ProtocolError
from .storage import PartLocked

CHUNK = 256 << 10  # small reads: a broken connection loses at most this much
ACCEPTING = (project_status.CREATED,)


class _TooLarge(Exception):
    pass


class _Broken(Exception):
    pass


def _chunks(stream, limit, received):
    """Read the body in bounded chunks; stop at ``limit`` bytes. ``received[0]`` counts bytes."""
    while True:
        try:
            chunk = stream.read(CHUNK)
        except (OSError, HTTPException) as e:  # the client went away mid-body
            raise _Broken from e
        if not chunk:
            return
        if received[0] + len(chunk) > limit:
            raise _TooLarge
        received[0] += len(chunk)
        yield chunk


def check_accepting(project):
    if project.status not in ACCEPTING:
        raise ProtocolError(f"the project is {project.status!r}; parts can no longer change "
                            "(reset it to upload again)", status=409)


@contextmanager
def committing(db, project_id, index, size, limit, sha256):
    """Around the moment the store makes a whole part visible: hold the project's row with the
    same conditional write startProject queues it with, so a part commits only while the project
    is ``created``, never after the job's bytes were fixed; check the part fits the split (the
    first whole part fixes the slice size); and record it (``sha256()``: its hash) before the row
    is let go, so `offset`, which waits for the row, never finds it neither staged nor recorded.
    A record that fails leaves the part stored but unrecorded: HEAD answers 0 and the client
    sends it again, which heals it."""
    with db.session() as session:
        held = session.execute(update(Project).where(
            Project.id == project_id, Project.status.in_(ACCEPTING)).values(updated=utcnow()))
        project = session.get(Project, project_id)
        if project is None:
            raise ProtocolError("the project was reset during the upload", status=404)
        if not held.rowcount:
            check_accepting(project)
        try:
            split.accept(project, index, size, limit)
        except ValueError as e:
            raise ProtocolError(str(e)) from None
        yield
        projects.record_part(session, project, index, size, sha256())


def offset(db, store, project, index):
    """How many bytes of part ``index`` the server holds: the resumable offset. Read while
    holding the project's row (a write that changes nothing), so a part being committed is
    waited for: between the store making it visible and its record, it is neither staged nor
    recorded, and 0 would make the client send the whole part again."""
    with db.session() as session:
        session.execute(update(Project).where(Project.id == project.id).values(updated=Project.updated))
        staged = store.staged_size(projects.part_key(project, index))
        if staged:
            return staged
        part = session.get(Part, (project.id, index))
        return part.size if part else 0


def receive(db, store, project, index, stream, content_length, start=0, total=None, limit=None):
    """Write the body at ``start``; returns (bytes now held, sha256 when the part is complete).
    A part is complete at its known length; while the slice size is not known yet, at
    ``total`` (tus Upload-Length) or, without one, where this body ends. ``limit``: the server's
    part size limit. Holds no database session while bytes arrive: an upload can take minutes."""
    check_accepting(project)
    expected = project.part_length(index)
    if expected is None and total is None and content_length is not None:
        total = start + content_length
    complete = expected or total
    room = (complete or split.longest(project.filesize, project.parts, limit, index)) - start
    if content_length is not None and content_length > room:
        raise ProtocolError(f"part {index} is {complete or room + start} bytes at most; "
                            f"{content_length} bytes at offset {start} would overrun it")
    key = projects.part_key(project, index)
    received = [0]
    try:
        return store.write_staged(key, _chunks(stream, room, received), start, complete,
                                  commit=lambda size, sha256: committing(db, project.id, index, size, limit, sha256))
    except ProtocolError:  # the part does not fit, or the project has started
        if start == 0:
            store.write_staged(key, [], 0, room)  # a wrong whole part: nothing to resume
        raise
    except PartLocked:
        raise ProtocolError(f"part {index} is being uploaded by another request", status=409) from None
    except _TooLarge:
        if start == 0:
            store.write_staged(key, [], 0, room)  # a wrong whole part: nothing to resume
            raise ProtocolError(f"part {index} must be at most {room} bytes; more arrived") from None
        held = store.staged_size(key)  # a resumed part keeps what it had: HEAD tells it
        raise ProtocolError(f"part {index} is {room + start} bytes at most; this PATCH ran past "
                            f"its end. The {held} bytes held are kept", status=413) from None
    except ValueError as e:  # the offset does not match what is staged
        raise ProtocolError(str(e), status=409) from None
    except _Broken:
        # The connection broke mid-body. What arrived stays staged for HEAD/PATCH to resume.
        raise ProtocolError(f"the upload of part {index} broke off after {start + received[0]} "
                            f"of {complete or 'the'} bytes; resume it from that offset") from None
