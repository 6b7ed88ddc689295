"""Flask application factory: services, blueprints, auth, error shapes and request ids."""
import logging
import re
import uuid

from flask import Flask, g, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from .. import __version__, config, redact
from ..db import Database
from ..diskfull import is_disk_full
from ..jobs.dispatch import job_queue
from ..links import LinkError, LinkSigner
from ..projects import ProtocolError
from ..storage import open_store
from . import parts, protocol, results, schemas
from .context import Services

log = logging.getLogger("cloud_backend.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(overrides=None):
    """Build the API for the settings ``overrides`` (see cloud_backend.config)."""
    settings = config.load(overrides)
    redact.install()  # whatever WSGI server loads the app: its logs show no tokens or signatures
    app = Flask(__name__)
    app.config.update(
        API_TITLE="OpenScan Cloud", API_VERSION=__version__, OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json")
    db = Database(settings["DATABASE_URL"])
    db.check_schema()
    app.extensions["openscan_cloud"] = Services(
        settings=settings, db=db, store=open_store(settings),
        links=LinkSigner(settings["SECRET_KEY"]), job_queue=job_queue(settings))

    api = _Api(app, spec_kwargs={"components": {"securitySchemes": {
        "basic": {"type": "http", "scheme": "basic"}}}})
    for blueprint in (protocol.blp, parts.blp, results.blp):
        api.register_blueprint(blueprint)
    _register_error_handlers(app)
    _register_request_ids(app)
    return app


class _Api(Api):
    ERROR_SCHEMA = schemas.Error  # every error is {"error": "..."}


def _register_error_handlers(app):
    @app.errorhandler(ProtocolError)
    def protocol_error(e):
        return jsonify(error=e.message), e.status

    @app.errorhandler(LinkError)
    def link_error(e):
        return jsonify(error=str(e)), 403

    @app.errorhandler(HTTPException)
    def http_error(e):
        status = 400 if e.code == 422 else e.code  # parameter errors are 400 in the protocol
        response = jsonify(error=_describe(e))
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="OpenScan Cloud"'
        return response

    @app.errorhandler(Exception)
    def unexpected(e):
        if is_disk_full(e):  # the server's problem, not the client's: 507, retry later
            log.error("storage full in %s %s: %s", request.method, request.path, e)
            return jsonify(error="the server's storage is full; try again later"), 507
        log.exception("unexpected error in %s %s [request %s]", request.method, request.path,
                      g.get("request_id"))
        return jsonify(error="internal server error", request_id=g.get("request_id")), 500


def _describe(e):
    """One readable line; webargs puts its per-field messages in ``e.data``."""
    messages = getattr(e, "data", {}).get("messages")
    if messages:
        fields = {k: v for location in messages.values() for k, v in location.items()}
        return "bad parameters: " + "; ".join(
            f"{name}: {' '.join(problems) if isinstance(problems, list) else problems}".rstrip(".")
            for name, problems in sorted(fields.items()))
    return e.description or e.name


def _register_request_ids(app):
    @app.before_request
    def assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex[:16]

    @app.after_request
    def expose_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response
