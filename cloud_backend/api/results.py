"""Signed download links for result zips, with HTTP Range so big downloads resume."""
from flask import redirect, request, send_file
from flask_smorest import Blueprint

from openscan_protocol import status as project_status

from .. import consent, projects
from ..models import Project
from ..projects import ProtocolError
from .context import services

blp = Blueprint("results", __name__, description="Signed result downloads (no Basic auth)")


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
        project = session.query(Project).filter_by(uid=uid).one_or_none()
        if project is not None and project.status in (project_status.INITIALIZED,
                                                      project_status.PROCESSING):
            raise ProtocolError("the project is being processed again; this link serves the new "
                                "result once it is done", status=404)
        if project is None or project.status != project_status.DONE:
            raise ProtocolError("this result no longer exists", status=404)
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
