"""The rig's cloud panel: a Flask blueprint (mount it into the rig's web interface with
`init_cloud(app, service)`) and a standalone app for `openscan serve`."""
from __future__ import annotations

from flask import Flask

from .blueprint import bp, init_cloud


def create_app(service, url_prefix: str = "/cloud") -> Flask:
    """A Flask app holding only the cloud panel (at `url_prefix`; `/` redirects there)."""
    from flask import redirect, url_for
    app = Flask(__name__)
    init_cloud(app, service, url_prefix=url_prefix)
    app.add_url_rule("/", "index", lambda: redirect(url_for("openscan_cloud.page")))
    return app


__all__ = ["bp", "create_app", "init_cloud"]
