"""Signed download links for result zips, with HTTP Range so big downloads resume, and the
zip's visual report viewable in a browser under the same signature."""
import zipfile

from flask import Response, redirect, request, send_file
from flask_smorest import Blueprint

from openscan_protocol import result as result_files
from openscan_protocol import status as project_status

from .. import consent, projects
from ..models import Project
from ..projects import ProtocolError
from .context import services

blp = Blueprint("results", __name__, description="Signed result downloads (no Basic auth)")
REPORT_MAX_BYTES = 16 << 20   # report.html is ~0.2 MB; a zip claiming more is not read whole


@blp.route("/download/<uid>/result.zip")
@blp.doc(parameters=[{"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}}],
         responses={"200": {"description": "the result zip",
                            "content": {"application/zip": {"schema": {"type": "string",
                                                                       "format": "binary"}}}},
                    "206": {"description": "the requested byte range"},
                    "302": {"description": "to the result in object storage"}})
def result(uid):
    """The project's result zip (``dlink``); valid for as long as the result is kept."""
    svc = services()
    svc.links.verify("download", uid, None, request.args.get("sig"))
    with svc.db.session() as session:
        project = _finished(session, uid)
        name = projects.result_name(project)
        key = projects.result_key(project)
        if request.method == "GET":
            consent.mark_delivered(session, project)  # starts the photos' grace period (consent.py)
    # object storage serves the bytes itself, through a fresh short-lived presigned URL
    direct = svc.store.url(key, svc.settings["DOWNLOAD_MAX_AGE"], filename=name)
    if direct:
        return redirect(direct)
    return send_file(svc.store.local_path(key), mimetype="application/zip", as_attachment=True, download_name=name,
                     conditional=True, max_age=0)


@blp.route("/download/<uid>/report.html")
@blp.doc(parameters=[{"in": "query", "name": "sig", "required": True, "schema": {"type": "string"}}],
         responses={"200": {"description": "report.html from the result zip",
                            "content": {"text/html": {"schema": {"type": "string"}}}}})
def report(uid):
    """The result's visual report, to open in a browser without unpacking the zip: the dlink
    with `report.html` for `result.zip` (the same signature). Served sandboxed, without
    script. Viewing it is not a delivery of the result (consent.py)."""
    svc = services()
    svc.links.verify("download", uid, None, request.args.get("sig"))
    with svc.db.session() as session:
        key = projects.result_key(_finished(session, uid))
    with svc.store.open(key) as f, zipfile.ZipFile(f) as archive:
        try:
            info = archive.getinfo(result_files.REPORT_HTML)
        except KeyError:
            raise ProtocolError("this result has no visual report (made before reports existed)",
                                status=404) from None
        if info.file_size > REPORT_MAX_BYTES:
            raise ProtocolError("this result's report is too large to show", status=404)
        page = archive.read(info)
    response = Response(page, mimetype="text/html")
    response.headers["Content-Security-Policy"] = result_files.RESULT_FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _finished(session, uid):
    """The project of a result link, or a 404 that says why there is no result to serve."""
    project = session.query(Project).filter_by(uid=uid).one_or_none()
    if project is not None and project.status in (project_status.INITIALIZED, project_status.PROCESSING):
        raise ProtocolError("the project is being processed again; this link serves the new "
                            "result once it is done", status=404)
    if project is None or project.status != project_status.DONE:
        raise ProtocolError("this result no longer exists", status=404)
    return project
