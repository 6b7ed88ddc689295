"""Receiving one part: a whole body (POST/PUT, as the field clients send it) or the rest of an
interrupted one (tus 1.0 core: HEAD tells the offset, PATCH appends from it)."""
from werkzeug.exceptions import HTTPException

from . import projects
from .projects import ProtocolError
from .storage import PartLocked

CHUNK = 256 << 10  # small reads: a broken connection loses at most this much
ACCEPTING = ("created",)


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


def offset(store, project, index):
    """How many bytes of part ``index`` the server holds: the resumable offset."""
    staged = store.staged_size(projects.part_key(project, index))
    if staged:
        return staged
    done = any(p.index == index for p in project.uploaded_parts)
    return project.part_length(index) if done else 0


def receive(store, project, index, stream, content_length, start=0):
    """Write the body at ``start``; returns (bytes now held, sha256 when the part is complete).
    Holds no database session: an upload can take minutes and must not pin a connection."""
    check_accepting(project)
    expected = project.part_length(index)
    room = expected - start
    if content_length is not None and content_length > room:
        raise ProtocolError(f"part {index} is {expected} bytes; {content_length} bytes "
                            f"at offset {start} would overrun it")
    key = projects.part_key(project, index)
    received = [0]
    try:
        size, sha256 = store.write_staged(key, _chunks(stream, room, received), start, expected)
    except PartLocked:
        raise ProtocolError(f"part {index} is being uploaded by another request", status=409) from None
    except _TooLarge:
        store.write_staged(key, [], 0, expected)  # wrong data: do not offer it for resuming
        raise ProtocolError(f"part {index} must be exactly {expected} bytes; more arrived") from None
    except ValueError as e:  # the offset does not match what is staged
        raise ProtocolError(str(e), status=409) from None
    except _Broken:
        # The connection broke mid-body. What arrived stays staged for HEAD/PATCH to resume.
        raise ProtocolError(f"the upload of part {index} broke off after {start + received[0]} "
                            f"of {expected} bytes; resume it from that offset") from None
    return size, sha256
