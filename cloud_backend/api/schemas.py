"""Query parameters and JSON shapes of the protocol (docs/protocol.md), used both to parse
requests and to write /openapi.json, so the description cannot drift from the code."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from openscan_protocol import options as scan_options
from openscan_protocol import status as project_status


class Args(Schema):
    class Meta:
        unknown = EXCLUDE  # old clients send extra parameters; ignore them


class RequestTokenArgs(Args):
    mail = fields.Email(required=True, validate=validate.Length(max=320))
    forename = fields.String(required=True, validate=validate.Length(min=1, max=200))
    lastname = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenArgs(Args):
    token = fields.String(required=True, metadata={"description": "32 characters [A-Za-z0-9]"})


class OptionalTokenArgs(Args):
    token = fields.String()


class ProjectArgs(TokenArgs):
    project = fields.String(required=True, metadata={"description": "e.g. 1637421234-OSC.zip"})


def _choice(name, values, description):
    return fields.String(validate=validate.OneOf(values, error=f"must be one of: {', '.join(values)}"),
                         metadata={"description": f"{description}; default {scan_options.DEFAULTS[name]}"})


def _flag(name, description):
    return fields.Boolean(error_messages={"invalid": "must be true or false (also 1/0, yes/no, on/off)"},
                          metadata={"description": f"{description}; default "
                                                  f"{str(scan_options.DEFAULTS[name]).lower()}"})


class Formats(fields.Field):
    """A comma-separated subset of openscan_protocol.result.FORMATS, e.g. ``obj,stl``."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return scan_options.parse_formats(value if isinstance(value, str) else None)
        except ValueError as e:
            raise ValidationError(str(e)) from None


class WebhookUrl(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return scan_options.parse_webhook(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as e:
            raise ValidationError(str(e)) from None


class OptionArgs(Args):
    """Per-scan options (extension; openscan_protocol/options.py): all optional, old clients
    send none and get the defaults."""
    quality = _choice("quality", scan_options.QUALITY, "reconstruction detail")
    texture = _flag("texture", "textured model")
    masking = _choice("masking", scan_options.MASKING, "auto: use masks/ when sent; masks: required")
    objecttype = _choice("objecttype", scan_options.OBJECTTYPE, "scene: no object isolation")
    formats = Formats(metadata={"description": "comma-separated subset of "
                                f"{', '.join(scan_options.ALL_FORMATS)}; default all"})
    notify = _flag("notify", "e-mail when done or failed")
    webhook = WebhookUrl(metadata={"description": "http(s) URL that gets a signed POST when the "
                                   "project ends; default the token's"})
    consent = _flag("consent", "may the photos be kept for research (else deleted after delivery)")


class RerunProjectArgs(ProjectArgs, OptionArgs):
    pass


class CreateProjectArgs(ProjectArgs, OptionArgs):
    photos = fields.Integer(required=True, strict=False)
    parts = fields.Integer(required=True, metadata={"description": "ceil(filesize / part size)"})
    filesize = fields.Integer(required=True, metadata={"description": "bytes of the whole zip"})
    direct = fields.Boolean(load_default=False, metadata={
        "description": "extension: ulink are presigned PUT URLs straight to object storage "
                       "(when the server stores in S3); parts must then be sent with PUT"})


class Empty(Schema):
    pass


class Online(Schema):
    status = fields.String(metadata={"example": "online"})


class TokenInfo(Schema):
    credit = fields.Integer(metadata={"description": "bytes left"})
    limit_filesize = fields.Integer()
    limit_photos = fields.Integer()


class CreatedProject(Schema):
    status = fields.String(metadata={"example": project_status.CREATED})
    ulink = fields.List(fields.Url(), metadata={"description": "one signed upload URL per part"})
    credit = fields.Integer(metadata={"description": "bytes left after this project"})


class StartedProject(Schema):
    status = fields.String(metadata={"example": project_status.INITIALIZED})


class ProjectInfo(Schema):
    dlink = fields.String(metadata={"description": "result zip URL; empty until processing done"})
    status = fields.String(metadata={"description": "created, initialized, processing, "
                                     "processing done, processing failed or expired"})
    ulink = fields.List(fields.String())
    progress = fields.Float(metadata={"description": "0-100 (extension)"})
    stage = fields.String(metadata={"description": "pipeline stage (extension)"})
    error = fields.String(metadata={"description": "why processing failed (extension)"})
    photos = fields.Integer()
    created = fields.DateTime()
    updated = fields.DateTime()
    options = fields.Dict(metadata={"description": "the per-scan options this project runs with "
                                    "(extension)"})
    report = fields.String(metadata={"description": "report.html of the result, to view in a browser; "
                                     "empty until processing done (extension)"})
    photos_kept = fields.Boolean(metadata={"description": "false once the photos were deleted "
                                           "(no consent): rerunProject then needs a new upload"})


class QueueEstimate(Schema):
    estimated_time_seconds = fields.Float()
    queued = fields.Integer(metadata={"description": "jobs waiting (extension)"})
    running = fields.Integer(metadata={"description": "jobs running (extension)"})


class PartReceived(Schema):
    content_hash = fields.String(data_key="content-hash", metadata={"description": "sha256 hex"})
    size = fields.Integer()


class Error(Schema):
    error = fields.String()
