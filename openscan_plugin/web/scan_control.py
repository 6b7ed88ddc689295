"""Routes of the scan-control page (mounted next to the cloud panel, default `/scan`): the live
preview, camera and motor set-up, scan settings with the planned path, start/pause/resume/cancel,
and the state pushed to the page as server-sent events. All state lives in the process's
ScanController, so a reload, the GPIO button and the CLI see the same scan.
Errors are JSON `{"error": message}`: 400 a request that fails its checks (scan/errors.py's
InvalidRequest), 409 the rig is busy, 404 nothing there, 500 anything else (logged, not shown)."""
from __future__ import annotations

import json
import logging
import time

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
)

from ..hardware.stepper import HomingError
from ..scan.errors import Busy, InvalidRequest
from ..scan.request import PRESETS
from .preview import BOUNDARY, PreviewHub, encode_jpeg, multipart, thumbnail
from .scan_views import camera_view, page_status, rig_status

log = logging.getLogger(__name__)

bp = Blueprint("openscan_scan", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")
KEEPALIVE_S = 15.0


def init_scan(app, controller, url_prefix: str = "/scan", service=None) -> None:
    """Mount the page into `app`; `controller` is the process's ScanController, `service` the
    cloud service whose upload of a finished scan the page shows (default: the cloud panel's)."""
    app.extensions["openscan_scan"] = controller
    app.extensions["openscan_scan_uploads"] = service
    app.extensions["openscan_preview"] = PreviewHub(controller)
    app.register_blueprint(bp, url_prefix=url_prefix)

    def routing_error(exc):
        # no route matched, so the blueprint's handlers are not asked: answer JSON for our API
        if request.path.startswith(f"{url_prefix}/api/"):
            return _error(exc.description if exc.code == 404 else f"{request.method} is not allowed here",
                          exc.code)
        return exc
    app.register_error_handler(404, routing_error)
    app.register_error_handler(405, routing_error)


def ctl():
    return current_app.extensions["openscan_scan"]


def uploads():
    """The cloud service the page shows uploads from, or None (a page without the cloud)."""
    ext = current_app.extensions
    return ext.get("openscan_scan_uploads") or ext.get("openscan_cloud")


def _error(message: str, status: int):
    return jsonify(error=message), status


@bp.errorhandler(InvalidRequest)
def _bad_input(exc):
    return _error(str(exc), 400)


@bp.errorhandler(ValueError)
def _fault(exc):
    # any other ValueError (numpy's, a library's) is our fault, not the request's: no 400
    log.error("scan page: %s %s failed", request.method, request.path, exc_info=exc)
    return _error("internal error (see the rig's log)", 500)


@bp.errorhandler(Busy)
def _busy(exc):
    return _error(str(exc), 409)


@bp.errorhandler(HomingError)
def _homing(exc):
    return _error(f"homing failed: {exc}", 500)


@bp.errorhandler(404)
def _not_found(exc):
    return _error(getattr(exc, "description", None) or "not found", 404)


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidRequest("send a JSON object (Content-Type: application/json)")
    return data


def full_status(c=None) -> dict:
    return page_status(c or ctl(), uploads())


@bp.get("/")
def page():
    cloud = "openscan_cloud" in current_app.blueprints
    return render_template("scan.html", presets=PRESETS, cloud=cloud)


@bp.get("/api/status")
def status():
    return jsonify(full_status())


@bp.get("/api/events")
def events():
    """Server-sent events: the whole status whenever it changes (and a keep-alive comment)."""
    c, service = ctl(), uploads()

    def stream():
        yield "retry: 1000\n\n"
        last, version, quiet_since = None, -1, time.monotonic()
        while not c.closed:
            body = json.dumps(page_status(c, service), sort_keys=True)
            if body != last:
                yield f"event: status\ndata: {body}\n\n"
                last, quiet_since = body, time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            # changes of the scan wake us at once; upload progress (the queue worker) is polled
            version = c.wait_change(version, 0.5)

    return Response(stream(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/api/presets")
def presets():
    return jsonify(presets=PRESETS)


@bp.post("/api/plan")
def plan():
    """The path a scan with these settings would take, and how long it would run."""
    req, p = ctl().plan(_json())
    return jsonify(points=p.points, mode=p.mode, photos=len(p.points) * p.photos_per_point,
                   photos_per_point=p.photos_per_point, estimated_duration_s=p.estimated_duration_s,
                   rotor_range=p.meta["rotor_range"], settings=req.to_dict())


@bp.post("/api/scan/start")
def start():
    source = request.args.get("source", "web")
    if source not in ("web", "cli"):
        raise InvalidRequest("source must be web or cli")
    ctl().start(_json(), source=source)
    return jsonify(full_status()), 202


@bp.post("/api/scan/continue")
def continue_scan():
    """{"name": scan, "upload": true}: take the missing photos of a cancelled or cut scan."""
    data = _json()
    ctl().continue_scan(data.get("name"), data.get("upload", True), source="web")
    return jsonify(full_status()), 202


@bp.post("/api/scan/<action>")
def scan_action(action):
    actions = {"pause": ctl().pause, "resume": ctl().resume, "cancel": ctl().cancel}
    if action not in actions:
        abort(404, f"unknown action {action!r}; use start, pause, resume, cancel or continue")
    actions[action]()
    return jsonify(full_status())


@bp.post("/api/jog")
def jog():
    data = _json()
    ctl().setup.jog(data.get("motor"), data.get("degrees"))
    return jsonify(rig_status(ctl(), uploads()))


@bp.post("/api/stop")
def stop_motion():
    ctl().setup.stop_motion()
    return jsonify(full_status())


@bp.post("/api/home")
def home():
    ctl().setup.home()
    return jsonify(rig_status(ctl(), uploads()))


@bp.post("/api/light")
def light():
    ctl().setup.set_light(_json().get("on"))
    return jsonify(rig_status(ctl(), uploads()))


@bp.get("/api/camera")
def camera():
    return jsonify(camera_view(ctl()))


@bp.post("/api/camera")
def set_camera():
    ctl().setup.set_camera(_json())
    return jsonify(camera_view(ctl()))


@bp.post("/api/test-photo")
def test_photo():
    path = ctl().setup.test_photo()
    return jsonify(photo=f"api/test-photo.jpg?t={path.stat().st_mtime_ns}")


@bp.get("/api/test-photo.jpg")
def test_photo_file():
    path = ctl().work_dir / "test-photo.jpg"
    if not path.is_file():
        abort(404, "no test photo yet")
    return send_file(path, mimetype="image/jpeg", max_age=0)


@bp.get("/api/photo/latest.jpg")
def latest_photo():
    """The running (or last) scan's newest photo; ?w=320 for a thumbnail."""
    path = ctl().latest_photo()
    if path is None:
        abort(404, "no photo taken yet")
    width = request.args.get("w", type=int)
    if not width:
        return send_file(path, mimetype="image/jpeg", max_age=0)
    if not 16 <= width <= 4000:
        raise InvalidRequest("w must be from 16 to 4000 pixels")
    return Response(encode_jpeg(thumbnail(path, width), 80), mimetype="image/jpeg",
                    headers={"Cache-Control": "no-store"})


@bp.get("/api/preview.mjpg")
def preview():
    """The live preview: multipart/x-mixed-replace JPEG frames (?frames=N stops after N)."""
    limit = request.args.get("frames", type=int)
    if limit is not None and limit < 1:
        raise InvalidRequest("frames must be 1 or more")
    hub = current_app.extensions["openscan_preview"]
    return Response(multipart(hub.frames(limit)), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
