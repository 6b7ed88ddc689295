"""`openscan rig ...`: the running daemon's scan from a terminal (a remote control). It talks
to the daemon's scan API (the same controller the web page and the GPIO button use), so all three see one scan."""
from __future__ import annotations

import json
import os

import click
import requests

DEFAULT_URL = os.environ.get("OPENSCAN_DAEMON_URL", "http://127.0.0.1:8080")


def _call(daemon: dict, path: str, body: dict | None = None) -> dict:
    url = daemon["url"]
    target = f"{url.rstrip('/')}/scan/api/{path}"
    from .web.guard import USER
    auth = (USER, daemon["password"]) if daemon.get("password") else None
    try:
        r = requests.request("POST" if body is not None else "GET", target, json=body, auth=auth, timeout=30)
    except requests.RequestException as exc:
        raise click.ClickException(f"no openscan daemon at {url} ({exc.__class__.__name__}); "
                                   "start it with `openscan daemon` or give --url") from None
    data = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    if r.status_code == 401:
        raise click.ClickException("the panel has a password: give --password or $OPENSCAN_PANEL_PASSWORD")
    if not r.ok:
        raise click.ClickException(data.get("error") or f"{r.status_code} from {target}")
    return data


def describe(s: dict) -> str:
    scan = s.get("scan")
    line = f"rig {s['state']}; rotor {s['angles']['rotor']:.1f} deg, turntable {s['angles']['turntable']:.1f} deg"
    if scan:
        line += f"\nscan {scan['name']} ({scan['source']}): {scan['state']}, {scan['done']} of {scan['total']}"
        if scan.get("eta_s") and scan["state"] in ("scanning", "pausing", "paused"):
            line += f", ETA {scan['eta_s']:.0f} s"
        for key in ("error", "upload_error"):
            if scan.get(key):
                line += f"\n{scan[key]}"
    if s.get("upload"):
        u = s["upload"]
        line += f"\nupload #{u['id']}: {u['state']} {u['percent']:.0f}%"
    return line


@click.group("rig")
@click.option("--url", default=DEFAULT_URL, show_default=True, help="the daemon ($OPENSCAN_DAEMON_URL)")
@click.option("--password", envvar="OPENSCAN_PANEL_PASSWORD",
              help="the panel's password, if it has one ($OPENSCAN_PANEL_PASSWORD)")
@click.pass_context
def rig(ctx, url, password):
    """The daemon's scan: status, start, pause, resume, cancel (shared with the page and button)."""
    ctx.obj = {"url": url, "password": password}


@rig.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(daemon, as_json):
    """What the rig is doing: the scan's state, i of N, ETA, its upload."""
    s = _call(daemon, "status")
    click.echo(json.dumps(s, indent=1) if as_json else describe(s))


@rig.command()
@click.option("--points", type=int, help="camera positions (per ring with --rings)")
@click.option("--preset", default="custom", show_default=True, help="quick, standard, detailed, turntable or custom")
@click.option("--rings", help="turntable mode: rotor angles of the rings, e.g. 0,30")
@click.option("--stack", type=int, help="photos per position (focus stack)")
@click.option("--name", help="scan folder name (default scan-<date>-<time>)")
@click.option("--upload/--no-upload", default=True, show_default=True, help="upload when finished")
@click.pass_obj
def start(daemon, points, preset, rings, stack, name, upload):
    """Start a scan on the daemon's rig."""
    body = {"preset": preset, "upload": upload}
    if points is not None:
        body["points"] = points
    if rings:
        try:
            body.update(mode="turntable", rings=[float(r) for r in rings.split(",") if r.strip()])
        except ValueError:
            raise click.BadParameter("rings: comma-separated angles, e.g. 0,30") from None
    if stack is not None:
        body["focus_stack"] = stack
    if name:
        body["name"] = name
    click.echo(describe(_call(daemon, "scan/start?source=cli", body)))


def _action(name: str, doc: str):
    @rig.command(name=name, help=doc)
    @click.pass_obj
    def command(daemon):
        click.echo(describe(_call(daemon, f"scan/{name}", {})))
    return command


for _name, _doc in (("pause", "Pause the scan after the current photo."),
                    ("resume", "Continue a paused scan."),
                    ("cancel", "Stop the scan (its photos are kept; nothing is uploaded).")):
    _action(_name, _doc)

