"""Upload links: one signed URL per part. POST/PUT send a whole part (what the field clients do);
HEAD and PATCH are the core of tus 1.0, so an interrupted part is resumed, not sent again."""
from contextlib import contextmanager

from flask import request
from flask_smorest import Blueprint

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import projects, uploads
from ..models import Project
from ..projects import ProtocolError
from . import schemas
from .context import services

blp = Blueprint("parts", __name__, description="Signed upload links (no Basic auth)")

TUS_VERSION = "1.0.0"
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store"}


def _project(uid, index):
    """The project of a valid link, loaded with its parts and detached from the database."""
    svc = services()
    svc.links.verify("upload", uid, index, request.args.get("sig"), svc.settings["LINK_MAX_AGE"])
    with svc.db.session() as session:
        project = session.scalar(select(Project).where(Project.uid == uid)
                                 .options(selectinload(Project.uploaded_parts)))
    if project is None:
        raise ProtocolError("this project no longer exists (it was reset)", status=404)
    if not 0 <= index < project.parts:
        raise ProtocolError(f"the project has parts 0-{project.parts - 1}", status=404)
    return project


@contextmanager
def _reset_aware(project, index):
    """resetProject deletes a project's blobs under a running upload; whatever the store or the
    database then raise, the client hears that (404), and nothing of the write stays behind."""
    svc = services()
    try:
        yield
    except Exception:
        if projects.exists(svc.db, project.id):
            raise
        svc.store.delete_prefix(f"projects/{project.uid}/")
        raise ProtocolError(f"the project was reset during the upload of part {index}",
                            status=404) from None


@blp.route("/upload/<uid>/<int:index>", methods=["POST", "PUT"])
@blp.doc(parameters=[{"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}}],
         requestBody={"content": {"application/octet-stream": {
             "schema": {"type": "string", "format": "binary"}}}})
@blp.response(200, schemas.PartReceived)
def part(uid, index):
    """Send part ``index`` whole. Sending it again replaces it."""
    svc = services()
    project = _project(uid, index)
    with _reset_aware(project, index):
        size, sha256 = uploads.receive(svc.db, svc.store, project, index, request.stream,
                                       request.content_length, limit=svc.settings["PART_SIZE"])
        if sha256 is None:
            raise ProtocolError(f"part {index} must be exactly {project.part_length(index)} "
                                f"bytes; {size} arrived (resume with PATCH from Upload-Offset "
                                f"{size})")
    return {"content_hash": sha256, "size": size}


@blp.route("/upload/<uid>/<int:index>", methods=["HEAD"])
@blp.doc(parameters=[{"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}}])
@blp.response(200, headers={"Upload-Offset": {"schema": {"type": "integer"}},
                            "Upload-Length": {"schema": {"type": "integer"}},
                            "Upload-Defer-Length": {"schema": {"type": "integer"}}})
def part_offset(uid, index):
    """tus: how many bytes of the part the server holds (``Upload-Offset``)."""
    project = _project(uid, index)
    svc = services()
    held = uploads.offset(svc.db, svc.store, project, index)
    length = project.part_length(index)  # None until the first whole part fixes the slice size
    return "", 200, {**TUS_HEADERS, "Upload-Offset": str(held),
                     **({"Upload-Length": str(length)} if length else {"Upload-Defer-Length": "1"})}


@blp.route("/upload/<uid>/<int:index>", methods=["PATCH"])
@blp.doc(parameters=[{"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}},
                     {"in": "header", "name": "Upload-Offset", "required": True,
                      "schema": {"type": "integer"}}],
         requestBody={"content": {"application/offset+octet-stream": {
             "schema": {"type": "string", "format": "binary"}}}})
@blp.response(204, headers={"Upload-Offset": {"schema": {"type": "integer"}}})
def part_append(uid, index):
    """tus: append to the part from ``Upload-Offset``; the part is stored when complete."""
    if request.headers.get("Tus-Resumable", TUS_VERSION) != TUS_VERSION:
        return {"error": f"only tus {TUS_VERSION} is supported"}, 412, {"Tus-Version": TUS_VERSION}
    if request.mimetype != "application/offset+octet-stream":
        raise ProtocolError("PATCH needs Content-Type: application/offset+octet-stream", status=415)
    try:
        start = int(request.headers["Upload-Offset"])
        total = int(request.headers["Upload-Length"]) if "Upload-Length" in request.headers else None
    except (KeyError, ValueError):
        raise ProtocolError("PATCH needs an Upload-Offset header (bytes already sent) and a "
                            "numeric Upload-Length, if any") from None
    svc = services()
    project = _project(uid, index)
    uploads.check_accepting(project)
    held = uploads.offset(svc.db, svc.store, project, index)
    if start != held:
        return ({"error": f"Upload-Offset {start} does not match the {held} bytes held"},
                409, {**TUS_HEADERS, "Upload-Offset": str(held)})
    with _reset_aware(project, index):
        size, _ = uploads.receive(svc.db, svc.store, project, index, request.stream,
                                  request.content_length, start=start, total=total,
                                  limit=svc.settings["PART_SIZE"])
    return "", 204, {**TUS_HEADERS, "Upload-Offset": str(size)}


@blp.after_request
def advertise_tus(response):
    """tus discovery: Flask answers OPTIONS itself; add what the server supports."""
    if request.method == "OPTIONS":
        response.headers.update({**TUS_HEADERS, "Tus-Version": TUS_VERSION})
    return response
