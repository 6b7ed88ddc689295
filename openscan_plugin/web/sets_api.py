"""The photo sets by name, for front ends that want one call per screen: the OpenScan2 Node-RED
flow (`openscan integrate openscan2`) polls `api/sets` and acts on a set by its name (send,
retry, cancel, reset), never by upload id, so it keeps no state of its own."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, request, url_for

from openscan_protocol.manifest import SCANNING
from openscan_protocol.result import PREVIEW

from .. import __version__
from ..cloud.upload_queue import ACTIVE
from .cloud_panel import svc
from .cloud_options import request_options
from .scans import list_scans, scan_folder

bp = Blueprint("openscan_sets", __name__)
ACTIONS = ("retry", "cancel", "reset")


def _mb(n) -> str:
    return f"{(n or 0) / 1e6:.1f} MB"


def status_text(u: dict | None) -> str:
    """One line a person reads next to the set."""
    if u is None:
        return "not sent"
    state = u["state"]
    if state == "uploading":
        return f"uploading {_mb(u.get('bytes_done'))} / {_mb(u['size'])}"
    if state == "processing":
        return f"processing: {u.get('stage') or 'queued'} {u['percent']:.0f}%"
    if state in ("failed", "cancelled") and u.get("error"):
        return f"{state}: {u['error']}"
    return state


def set_view(s: dict) -> dict:
    """A scan (scans.list_scans) and its latest upload, flattened for a table row."""
    u = s.get("upload")
    done = bool(u and u["state"] == "done")
    # a zip set's scan_status says why it cannot be sent; a rig scan's says 'scanning' until done
    sendable = s["photos"] > 0 and s["scan_status"] != SCANNING
    return {"name": s["name"], "photos": s["photos"], "size": s["size"], "date": s["date"],
            "scan_status": s["scan_status"], "sendable": sendable, "upload_id": u and u["id"],
            "state": u["state"] if u else "not sent", "percent": round(u["percent"], 1) if u else 0,
            "stage": u and u.get("stage"), "bytes_done": u and u.get("bytes_done"), "error": u and u.get("error"),
            "status": status_text(u) if u or sendable else s["scan_status"], "active": bool(u and u["active"]),
            "result_url": url_for("openscan_cloud.result_zip", name=s["name"]) if done else None,
            "preview_url": (url_for("openscan_cloud.model_file", name=s["name"], filename=PREVIEW)
                            if s["preview"] else None)}


@bp.get("/api/sets")
def sets():
    """Sets newest first with their latest upload; `?q=` keeps names containing it,
    `?state=` those whose upload is in that state (`not sent`, `active`, `done`, ...)."""
    service = svc()
    latest = service.queue.latest_by_folder()
    q, state = request.args.get("q", "").lower(), request.args.get("state")
    out = []
    for s in list_scans(service.settings.scans_dir):
        if q and q not in s["name"].lower():
            continue
        entry = latest.get(str(Path(s["folder"]).resolve()))
        s["upload"] = service.view(entry) if entry else None
        row = set_view(s)
        if state and not (row["state"] == state or (state == "active" and row["active"])):
            continue
        out.append(row)
    return jsonify(sets=out, health=health_info())


@bp.post("/api/sets/<name>/send")
def send(name):
    folder = scan_folder(svc().settings.scans_dir, name)
    if folder is None:
        abort(404, f"no set named {name!r}")
    entry = svc().enqueue(folder, request_options())    # JSON {"options": {...}}: this upload's choices
    return jsonify(svc().view(entry)), 202


@bp.post("/api/sets/<name>/<action>")
def act(name, action):
    """retry / cancel / reset the set's latest upload."""
    if action not in ACTIONS:
        abort(404, f"unknown action {action!r}; use send, {', '.join(ACTIONS)}")
    folder = scan_folder(svc().settings.scans_dir, name)
    entry = svc().queue.latest(folder) if folder else None
    if entry is None:
        abort(404, f"{name!r} was never sent" if folder else f"no set named {name!r}")
    do = {"retry": svc().retry, "cancel": svc().cancel, "reset": svc().reset}[action]
    return jsonify(svc().view(do(entry.id)))


def health_info() -> dict:
    """Counts are over each set's latest upload: a failed set that was sent again is not failed."""
    service = svc()
    s = service.settings
    latest = service.queue.latest_by_folder().values()
    return {"ok": service.worker_alive and bool(s.server and s.token),
            "worker": service.worker_alive, "server": s.server, "token_set": bool(s.token),
            "scans_dir": str(s.scans_dir), "scans_dir_exists": s.scans_dir.is_dir(),
            "active": sum(e.state in ACTIVE for e in latest),
            "failed": sum(e.state == "failed" for e in latest), "version": __version__}


@bp.get("/api/health")
def health():
    """Is the daemon working the queue, with a server and token, on an existing scans dir?"""
    return jsonify(health_info())
