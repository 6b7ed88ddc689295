"""The rig's cloud panel and scan-control page: Flask blueprints (mount them into the rig's web
interface with `init_cloud(app, service)` and `init_scan(app, controller)`, and `protect(app)`
for the host, origin and password checks) and a standalone app for `openscan serve` /
`openscan daemon`."""
from __future__ import annotations

from flask import Flask

from .cloud_panel import bp, init_cloud
from .cloud_options import bp as options_bp
from .guard import protect
from .sets_api import bp as sets_bp

bp.register_blueprint(sets_bp)        # the sets by name: /cloud/api/sets, /cloud/api/health
bp.register_blueprint(options_bp)     # the scan settings: /cloud/api/scan-options


def create_app(service, url_prefix: str = "/cloud", controller=None) -> Flask:
    """A Flask app holding the cloud panel (at `url_prefix`) and, given the process's
    ScanController, the scan-control page at /scan. `/` redirects to the scan page if there
    is one, else to the panel."""
    from flask import redirect, url_for
    app = Flask(__name__)
    protect(app, service.settings.config_file)     # host, origin and password checks for every route
    init_cloud(app, service, url_prefix=url_prefix)
    home = "openscan_cloud.page"
    if controller is not None:
        from .scan_control import init_scan
        init_scan(app, controller)
        home = "openscan_scan.page"
    app.add_url_rule("/", "index", lambda: redirect(url_for(home)))
    return app


__all__ = ["bp", "create_app", "init_cloud", "protect"]
