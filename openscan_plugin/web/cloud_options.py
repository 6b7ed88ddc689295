"""The panel's scan settings: the rig-wide cloud options (quality, texture, masking, objecttype,
formats, notify, webhook, consent) that the GPIO button, the daemon and `openscan upload` use,
and the per-upload choices the panel's upload buttons send.

    GET  /cloud/api/scan-options   {"options": {...}, "defaults": {...}, "choices": {...}, "consent_text"}
    POST /cloud/api/scan-options   JSON {name: value, ...} (any subset) -> the stored options; 400 naming a bad one

The upload endpoints (/api/scans/<name>/upload, /api/upload, /api/sets/<name>/send, and the
reset action) take an optional JSON {"options": {...}}: this upload's choices over the rig's.
/api/uploads/<id>/rerun takes the same: a finished upload's new choices over its own.
The panel's guard (host, origin, password) covers these routes like every other.
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, current_app, jsonify, request

from openscan_protocol.options import ALL_FORMATS

from ..cloud.scan_options import BOOLEANS, CHOICES, CONSENT_TEXT, OptionsError, defaults

bp = Blueprint("cloud_options", __name__)
FORM_CHOICES = {**CHOICES, "formats": ALL_FORMATS}   # what the form offers, straight from the contract


def _service():
    return current_app.extensions["openscan_cloud"]


def _error(message: str, status: int = 400):
    return jsonify(error=message), status


def request_options() -> Optional[dict]:
    """This request's per-upload choices (JSON {"options": {...}}), None when it sends none.
    The values are checked where they are merged (CloudService.enqueue): an OptionsError, 400."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or data.get("options") is None:
        return None
    if not isinstance(data["options"], dict):
        raise OptionsError('options must be a JSON object, e.g. {"options": {"quality": "high"}}')
    return data["options"]


@bp.app_context_processor
def _choices():
    return {"scan_option_choices": FORM_CHOICES, "scan_option_booleans": BOOLEANS,
            "consent_text": CONSENT_TEXT}


@bp.get("/api/scan-options")
def get_options():
    settings = _service().settings
    return jsonify(options=settings.resolved_options(), defaults=defaults(),
                   choices=FORM_CHOICES, consent_text=CONSENT_TEXT)


@bp.post("/api/scan-options")
def save_options():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error('send JSON {"quality": "high", ...}: the options to change')
    data = data.get("options", data) if isinstance(data.get("options"), dict) else data
    try:
        options = _service().settings.save_scan_options(data)
    except OptionsError as exc:
        return _error(str(exc))
    return jsonify(options=options)
