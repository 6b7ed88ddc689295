"""Per-scan options: optional `createProject` (and `rerunProject`) query parameters.

Old clients send none of them and get the defaults; old servers ignore them. The names follow
the OpenScanCloud rewrite's job model (quality, texture, masking, objecttype,
email_notification) so rigs written against it map one to one. Both halves read this table:
the rig to offer the choices, the server to validate them (400 naming the field and the
accepted values).
"""
from urllib.parse import urlsplit

from .result import DEFAULT_FORMATS, FORMATS

QUALITY = ("preview", "standard", "high")
MASKING = ("auto", "off", "masks")   # masks: use masks/<image>.png from the upload, required
OBJECTTYPE = ("object", "scene")     # scene: no object isolation, no closed print surface

DEFAULTS = {
    "quality": "standard",
    "texture": True,
    "masking": "auto",
    "objecttype": "object",
    "formats": DEFAULT_FORMATS,
    "notify": True,        # e-mail when done or failed
    "webhook": "",         # URL that gets a signed POST when done or failed
    "consent": False,      # may the photos and result be kept for research
}

# The options the reconstruction pipeline itself reads (cloud_backend/reconstruct/options.py
# has the same keys); notify, webhook and consent stay with the server.
PIPELINE_KEYS = ("quality", "texture", "masking", "objecttype", "formats")
ALL_FORMATS = tuple(FORMATS)
WEBHOOK_MAX = 2000   # characters


def parse_formats(value):
    """'obj,glb' or ['obj', 'glb'] -> ['obj', 'glb'] (given order, no repeats); ValueError unless
    it names one or more known formats. Each half says in its own words which field it was."""
    if isinstance(value, str):
        names = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        names = value
    else:
        raise ValueError(f"must be a comma-separated list of {', '.join(ALL_FORMATS)}")
    names = list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in names if n not in ALL_FORMATS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(map(repr, unknown))}; choose from {', '.join(ALL_FORMATS)}")
    if not names:
        raise ValueError(f"choose at least one of {', '.join(ALL_FORMATS)}")
    return names


def parse_webhook(value):
    """'' (none) or an http(s) URL with a host, stripped; ValueError otherwise. Whether the
    server may call that host is the server's question (cloud_backend/scan_options.py)."""
    wrong = ValueError(f"must be an http:// or https:// URL of at most {WEBHOOK_MAX} characters")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise wrong
    value = value.strip()
    if not value:
        return ""
    try:
        url = urlsplit(value)
    except ValueError:
        raise wrong from None
    if url.scheme not in ("http", "https") or not url.hostname or len(value) > WEBHOOK_MAX \
            or any(c.isspace() for c in value):
        raise wrong
    return value
