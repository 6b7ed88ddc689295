"""`openscan serve`, `openscan daemon` and `openscan panel-password`: arguments only; the process
itself is daemon.py, its parts come from compose.py."""
from __future__ import annotations

import logging

import click

from .cli_options import rig_choice, with_profile_options
from .cloud.cli import config_option, with_cloud_options
from .cloud.settings import load_settings
from .compose import QueueTaken, ScanSide
from .hardware.backend import RigUnavailable


def _run(settings, **kw) -> None:
    from .daemon import run_daemon
    try:
        code = run_daemon(settings, say=click.echo, **kw)
    except (QueueTaken, RigUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@click.command()
@with_cloud_options
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--scans-dir", type=click.Path(file_okay=False),
              help="scan folders to list (default $OPENSCAN_SCANS_DIR or DATA_DIR/scans)")
def serve(server, token, data_dir, config_file, host, port, scans_dir):
    """The cloud panel on its own (scans, upload button, progress, 3D view) + the queue."""
    _log_to_stderr()
    settings = load_settings(config_file, server=server, token=token, data_dir=data_dir,
                             scans_dir=scans_dir)
    _run(settings, host=host, port=port, own_queue=False)


@click.command()
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
    _log_to_stderr()
    settings = load_settings(config_file, server=server, token=token, data_dir=data_dir,
                             scans_dir=scans_dir)
    rig = rig_choice(profile, shield, config_file, simulate)
    scan_side = None if no_web and no_trigger else ScanSide(rig, button=not no_trigger, points=points)
    _run(settings, host=host, port=port, web=not no_web, scan_side=scan_side)


@click.command("panel-password")
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
