"""The backend's services, attached to the Flask app by the factory (no module-level state)."""
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app, request, url_for

from ..db import Database
from ..links import LinkSigner
from ..projects import ProtocolError


@dataclass
class Services:
    settings: dict
    db: Database
    store: object
    links: LinkSigner
    job_queue: object  # jobs.dispatch: EmbeddedQueue or CeleryQueue, chosen once


def services() -> Services:
    return current_app.extensions["openscan_cloud"]


LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def external_url(endpoint, **values):
    """Absolute URL: on PUBLIC_URL when configured, else on the address the client used, if
    that is a loopback name or in ALLOWED_HOSTS: a spoofed Host header must not send uploads
    (or downloads) to somebody else's server."""
    return public_base() + url_for(endpoint, **values)


def public_base():
    """scheme://host[:port] of the links this request gets (see external_url)."""
    settings = services().settings
    base = settings["PUBLIC_URL"]
    if not base:
        host = urlsplit("//" + request.host).hostname or ""
        allowed = {h.strip().lower() for h in settings["ALLOWED_HOSTS"].split(",")} | LOOPBACK
        if host not in allowed:
            raise ProtocolError(f"this server makes no links for the host name {host!r}: its "
                                "admin sets PUBLIC_URL (or lists the name in ALLOWED_HOSTS)")
        base = request.host_url
    return base.rstrip("/")
