"""`openscan serve` (the web panel + the upload queue) and `openscan daemon` (the same plus the
GPIO trigger, systemd readiness and watchdog): one process, stopped cleanly by SIGTERM/SIGINT.

Shutdown leaves the entry in flight where it is (its state says what to do next and the server
keeps what arrived), so the next start resumes it without help.
"""
from __future__ import annotations

import logging
import signal
import threading

import click

from .cloud.cli import config_option, with_cloud_options
from .cloud.settings import load_settings
from .sdnotify import notify, watchdog_interval

log = logging.getLogger("openscan.daemon")


class WebServer:
    """werkzeug's threaded server in a thread, so the main thread stays free for signals."""

    def __init__(self, app, host: str, port: int):
        from werkzeug.serving import make_server
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


def run_daemon(settings, *, host: str, port: int, web: bool = True, trigger_factory=None,
               stop: threading.Event | None = None, own_queue: bool = True,
               controller_factory=None) -> int:
    """Run until SIGTERM/SIGINT (or `stop`). Returns the exit status. Without `own_queue`
    (`openscan serve`) a daemon already working the queue is fine: this process only queues.
    `controller_factory(service)` makes the process's one ScanController (or None: no rig),
    which the web page and `trigger_factory(service, controller)` share."""
    from .cloud.service import CloudService
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):   # first: a stop during start-up is clean too
        signal.signal(sig, lambda *a: stop.set())
    service = CloudService(settings)
    if not service.start_worker():
        if own_queue:
            raise click.ClickException(f"another openscan daemon works the queue in {settings.data_dir}")
        click.echo("the daemon works the upload queue; this panel queues uploads for it")
    parts, controller = [], None
    try:
        controller = controller_factory(service) if controller_factory else None
        if web:
            from .web import create_app
            server = WebServer(create_app(service, controller=controller), host, port)
            server.start()
            parts.append(server)
            click.echo(f"web panel on http://{host}:{server.port}/cloud/")
            if controller is not None:
                click.echo(f"scan control on http://{host}:{server.port}/scan/")
        if trigger_factory:
            trigger = trigger_factory(service, controller)
            if trigger is not None:
                parts.append(trigger)
        notify("READY=1", f"STATUS={service.status_line()}")
        interval = watchdog_interval()
        while not stop.wait(min(interval or 5.0, 5.0)):
            # the watchdog only gets its ping while the queue worker lives: a dead worker
            # thread means systemd restarts us instead of a rig that silently stops uploading
            if service.worker_alive:
                notify("WATCHDOG=1", f"STATUS={service.status_line()}")
        click.echo("stopping…")
        notify("STOPPING=1")
    finally:
        if controller is not None:
            controller.close()            # cancels a running scan (resumable from its folder)
        for part in reversed(parts):
            part.stop()
        if controller is not None:
            controller.rig.close()
        service.stop()
    return 0


def register(main: click.Group) -> None:
    from .cli import with_profile_options
    from .scanctl import register as register_scanctl
    register_scanctl(main)               # `openscan rig ...`: the daemon's scan from a terminal

    @main.command()
    @with_cloud_options
    @click.option("--host", default="0.0.0.0", show_default=True)
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
    @click.option("--scans-dir", type=click.Path(file_okay=False),
                  help="scan folders to list (default $OPENSCAN_SCANS_DIR or DATA_DIR/scans)")
    def serve(server, token, data_dir, config_file, host, port, scans_dir):
        """The cloud panel on its own (scans, upload button, progress, 3D view) + the queue."""
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        settings = load_settings(config_file, server=server, token=token, data_dir=data_dir,
                                 scans_dir=scans_dir)
        raise SystemExit(run_daemon(settings, host=host, port=port, own_queue=False))

    @main.command()
    @with_cloud_options(config=False)
    @with_profile_options
    @click.option("--host", default="0.0.0.0", show_default=True)
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
    @click.option("--scans-dir", type=click.Path(file_okay=False))
    @click.option("--no-web", is_flag=True, help="no web panel (button and queue only)")
    @click.option("--no-trigger", is_flag=True, help="no GPIO button")
    @click.option("--points", type=click.IntRange(1, 2000),
                  help="camera positions of a scan started by the button (default: the profile's trigger.points)")
    def daemon(server, token, data_dir, profile, shield, config_file, simulate, host, port,
               scans_dir, no_web, no_trigger, points):
        """The headless rig service: web panel, GPIO trigger and upload queue in one process
        (systemd Type=notify with watchdog; see systemd/openscan-rig.service)."""
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        settings = load_settings(config_file, server=server, token=token, data_dir=data_dir,
                                 scans_dir=scans_dir)
        from .cli import _profile
        prof = _profile(profile, shield, config_file)
        trigger_factory = None
        if not no_trigger:
            from .trigger import trigger_from_profile
            trigger_factory = lambda service, controller: trigger_from_profile(  # noqa: E731
                prof, service, simulate=simulate, points=points, controller=controller)
        controller_factory = None
        if not (no_web and no_trigger):
            controller_factory = lambda service: _controller(  # noqa: E731
                prof, service, simulate, required=not no_trigger)
        raise SystemExit(run_daemon(settings, host=host, port=port, web=not no_web,
                                    trigger_factory=trigger_factory,
                                    controller_factory=controller_factory))

    @main.command("panel-password")
    @config_option
    @click.option("--off", is_flag=True, help="remove the password: the panel is open on the LAN again")
    def panel_password(config_file, off):
        """Protect the web panel with a password (asked twice; HTTP Basic auth, user name
        `openscan`). Applies at once, also to a running daemon."""
        from .web.guard import set_password
        password = None if off else click.prompt("panel password", hide_input=True,
                                                 confirmation_prompt=True)
        path = set_password(password, config_file)
        click.echo(f"panel password {'removed' if off else 'set'} in {path}")


def _controller(profile: dict, service, simulate: bool, required: bool):
    """The process's one ScanController on the rig (web page and button share it). Without
    the button, a machine with no rig (no picamera2) still serves the cloud panel."""
    from .cli import make_rig
    from .scan.controller import ScanController
    try:
        rig = make_rig(profile, simulate)
    except Exception as exc:
        if required:
            raise
        click.echo(f"no scan control: {getattr(exc, 'message', None) or exc}")
        return None
    return ScanController(rig, service)
