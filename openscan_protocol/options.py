"""Per-scan options: optional `createProject` (and `rerunProject`) query parameters.

Old clients send none of them and get the defaults; old servers ignore them. The names follow
the OpenScanCloud rewrite's job model (quality, texture, masking, objecttype,
email_notification) so rigs written against it map one to one. Both halves read this table:
the rig to offer the choices, the server to validate them (400 naming the field and the
accepted values).
"""
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
