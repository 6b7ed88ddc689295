"""Routes of the cloud panel: one HTML page plus JSON endpoints that any front end (this page,
OpenScan3's UI, a Node-RED dashboard) can drive. Errors are 4xx JSON `{"error": message}`."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, request, send_from_directory

from openscan_protocol.result import RESULT_FILE_CSP, SHOWN_FILES

from ..cloud.client import CloudError
from ..cloud.package import PackageError, is_zip_set
from ..cloud.upload_queue import AlreadyQueued, QueueError
from ..cloud.uploader import MODEL_DIR, RESULT_DIR, result_home
from .cloud_options import request_options
from .scans import list_scans, scan_folder

bp = Blueprint("openscan_cloud", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


def init_cloud(app, service, url_prefix: str = "/cloud") -> None:
    """Mount the panel into `app`; `service` is the process's CloudService."""
    app.extensions["openscan_cloud"] = service
    app.register_blueprint(bp, url_prefix=url_prefix)


def svc():
    return current_app.extensions["openscan_cloud"]


def _error(message: str, status: int = 400):
    return jsonify(error=message), status


@bp.errorhandler(QueueError)
@bp.errorhandler(PackageError)
def _bad_request(exc):
    return _error(str(exc), 400)


@bp.errorhandler(AlreadyQueued)
def _conflict(exc):
    return _error(str(exc), 409)


@bp.errorhandler(CloudError)
def _cloud_error(exc):
    return _error(str(exc), 502)


@bp.errorhandler(404)
def _not_found(exc):
    return _error(getattr(exc, "description", None) or "not found", 404)


@bp.get("/")
def page():
    return render_template("cloud.html")


@bp.get("/api/scans")
def scans():
    """Every scan with its latest upload (state, progress, result files)."""
    service = svc()
    latest = service.queue.latest_by_folder()
    out = []
    for s in list_scans(service.settings.scans_dir):
        entry = latest.get(str(Path(s["folder"]).resolve()))
        s["upload"] = service.view(entry) if entry else None
        out.append(s)
    return jsonify(scans=out, worker=service.worker_alive)


@bp.post("/api/scans/<name>/upload")
def upload(name):
    folder = scan_folder(svc().settings.scans_dir, name)
    if folder is None:
        abort(404, f"no scan named {name!r}")
    entry = svc().enqueue(folder, request_options())
    return jsonify(svc().view(entry)), 202


@bp.post("/api/upload")
def upload_folder():
    """Queue any folder below the scans dir, nested too (OpenScan3: projects/<name>/scanNN):
    JSON {"folder": "<absolute path or path relative to the scans dir>", "options": {...}}."""
    data = request.get_json(silent=True) or {}
    root = svc().settings.scans_dir.resolve()
    if not isinstance(data.get("folder"), str) or not data["folder"]:
        return _error('send JSON {"folder": "<path below the scans dir>"}')
    folder = (root / data["folder"]).resolve()
    if not folder.is_relative_to(root) or not (folder.is_dir() or is_zip_set(folder)):
        return _error(f"{data['folder']} is not a folder below {root}")
    entry = svc().enqueue(folder, request_options())
    return jsonify(svc().view(entry)), 202


@bp.get("/api/uploads")
def uploads():
    return jsonify(uploads=[svc().view(e) for e in svc().queue.list()])


@bp.get("/api/uploads/<int:entry_id>")
def upload_status(entry_id):
    return jsonify(svc().view(svc().queue.get(entry_id)))


@bp.post("/api/uploads/<int:entry_id>/<action>")
def upload_action(entry_id, action):
    actions = {"cancel": svc().cancel, "retry": svc().retry, "reset": svc().reset, "rerun": svc().rerun}
    if action not in actions:
        abort(404, f"unknown action {action!r}; use cancel, retry, reset or rerun")
    if action in ("reset", "rerun"):      # with new options if the request sends any
        return jsonify(svc().view(actions[action](entry_id, request_options())))
    return jsonify(svc().view(actions[action](entry_id)))


@bp.get("/api/settings")
def settings():
    """Server, a masked token, and (when reachable) the token's credit and limits."""
    s = svc().settings
    out = {"server": s.server, "token": (s.token[:4] + "…" + s.token[-4:]) if s.token else None,
           "scans_dir": str(s.scans_dir)}
    if s.server and s.token:
        try:
            out["token_info"] = svc().token_info()
        except CloudError as exc:
            out["token_error"] = str(exc)
    return jsonify(out)


@bp.post("/api/settings")
def save_settings():
    data = request.get_json(silent=True) or request.form
    # no server: keep the one configured (a token-only form, like the OpenScan2 flow's)
    server = (data.get("server") or svc().settings.server or "").strip()
    token = (data.get("token") or "").strip()
    if not server.startswith(("http://", "https://")):
        return _error("server must be an http:// or https:// URL")
    if not token:
        return _error("token is empty")
    try:
        info = svc().save_token(server, token)
    except CloudError as exc:
        return _error(f"the server did not accept this token: {exc}")
    return jsonify(server=server, token_info=info)


@bp.get("/scans/<name>/model/<path:filename>")
def model_file(name, filename):
    """Files of the unpacked model (preview, glb for the 3D view, obj, the visual report...)."""
    folder = scan_folder(svc().settings.scans_dir, name)
    if folder is None or filename not in SHOWN_FILES:
        abort(404, "no such model file")
    response = send_from_directory(result_home(folder) / MODEL_DIR, filename)
    response.headers["Content-Security-Policy"] = RESULT_FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/scans/<name>/result.zip")
def result_zip(name):
    """The result zip as the server delivered it (the 'result link')."""
    folder = scan_folder(svc().settings.scans_dir, name)
    entry = svc().queue.latest(folder) if folder else None
    if entry is None or entry.state != "done":
        abort(404, "no result for this scan yet")
    return send_from_directory(result_home(folder) / RESULT_DIR, entry.project, as_attachment=True,
                               download_name=f"{name.removesuffix('.zip')}-model.zip")
