"""The backend's services, attached to the Flask app by the factory (no module-level state)."""
from dataclasses import dataclass

from flask import current_app, request, url_for

from ..db import Database
from ..links import LinkSigner


@dataclass
class Services:
    settings: dict
    db: Database
    store: object
    links: LinkSigner


def services() -> Services:
    return current_app.extensions["openscan_cloud"]


def external_url(endpoint, **values):
    """Absolute URL: on PUBLIC_URL when configured, else on the address the client used."""
    base = services().settings["PUBLIC_URL"] or request.host_url
    return base.rstrip("/") + url_for(endpoint, **values)
