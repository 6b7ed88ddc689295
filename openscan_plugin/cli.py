"""The `openscan` command: the click group, the commands that drive the rig directly (scan, move,
photo, calibrate) and the registration of the others (upload/status/rerun/download: cloud/cli.py;
serve/daemon/panel-password: cli_daemon.py; rig: cli_rig.py; integrate: integrations/cli.py).
Arguments only: the rig comes from compose.py."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import click

from openscan_protocol.manifest import FILENAME as MANIFEST

from .cli_daemon import daemon, panel_password, serve
from .cli_options import rig_choice, with_profile_options
from .cli_rig import rig as rig_remote
from .cloud.cli import download, rerun, status, upload
from .config import read_user_config, write_user_config
from .hardware.backend import RigUnavailable
from .integrations.cli import integrate


def _run_cancellable(work, cancel):
    """Run `work` in a thread so Ctrl-C can ask for a clean stop instead of killing mid-write."""
    box = {}

    def target():
        try:
            box["result"] = work()
        except BaseException as exc:  # re-raised in the main thread
            box["error"] = exc
    t = threading.Thread(target=target, daemon=True)
    t.start()
    try:
        while t.is_alive():
            t.join(0.2)
    except KeyboardInterrupt:
        click.echo("\nstopping after the current step...", err=True)
        cancel()
        t.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def _open(choice, **hints):
    """The chosen rig; a backend that cannot open one here is a usage message, not a traceback."""
    try:
        return choice.open(**hints)
    except RigUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="openscan-cloud", message="%(version)s")
def main():
    """OpenScan rig: scan, move the motors, take photos, calibrate the camera."""


@main.command()
@with_profile_options
@click.option("--points", type=click.IntRange(1, 2000), default=60, show_default=True,
              help="camera positions (per ring in turntable mode)")
@click.option("--mode", type=click.Choice(["sphere", "turntable"]), default="sphere", show_default=True)
@click.option("--rings", default="0", show_default=True, help="rotor angles of the rings, turntable mode")
@click.option("--stack", type=click.IntRange(1, 20), default=None, help="photos per position (focus stack)")
@click.option("--out", "out", type=click.Path(file_okay=False), required=True, help="scan folder")
@click.option("--resume", is_flag=True, help="continue an interrupted scan in --out")
def scan(profile, shield, config_file, simulate, points, mode, rings, stack, out, resume):
    """Scan an object into a folder of photos + manifest.json."""
    from tqdm import tqdm

    from .hardware.camera import CameraSettings
    from .hardware.stepper import HomingError
    from .scan.manifest import ManifestError
    from .scan.path import plan_scan
    from .scan.routine import ScanCancelled, ScanRoutine, read_position

    choice = rig_choice(profile, shield, config_file, simulate)
    prof = choice.profile
    settings = CameraSettings.from_profile(prof["camera"])
    if stack:
        settings.focus_stack = stack
    plan = None
    if not resume:
        if (Path(out) / MANIFEST).exists():
            raise click.ClickException(f"{out} already holds a scan: add --resume or pick another --out")
        try:
            ring_list = [float(r) for r in rings.split(",") if r.strip()]
            plan = plan_scan(prof, points, mode=mode, rings=ring_list, photos_per_point=settings.focus_stack)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{len(plan.points)} positions x {plan.photos_per_point} photo(s), "
                   f"estimated {plan.estimated_duration_s / 60:.1f} min")
    elif not (Path(out) / MANIFEST).exists():
        raise click.ClickException(f"nothing to resume: {out} has no {MANIFEST}")
    rig = _open(choice, last_position=read_position(out) if resume else None)
    bar = tqdm(unit="photo", dynamic_ncols=True)

    def on_event(e):
        if e.kind == "started":
            bar.reset(total=e.total)
            bar.update(e.done)
        elif e.kind == "photo":
            bar.update(e.done - bar.n)
            bar.set_postfix_str(f"{e.photo} ETA {e.eta_s:.0f}s")
        elif e.kind in ("paused", "resumed", "warning"):
            bar.write(f"{e.kind}: {e.message}" if e.message else e.kind)

    routine = ScanRoutine(rig, out, plan=plan, settings=settings, on_event=on_event)
    try:
        manifest = _run_cancellable(lambda: routine.run(resume=resume), routine.cancel)
    except ScanCancelled:
        bar.close()
        click.echo(f"cancelled; continue with: openscan scan --out {out} --resume", err=True)
        sys.exit(130)
    except (ManifestError, ValueError, HomingError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
        rig.close()
    click.echo(f"{len(manifest.photos)} photos in {out}")


@main.command()
@with_profile_options
@click.option("--rotor", type=float, help="rotor angle, degrees (camera elevation)")
@click.option("--turntable", type=float, help="turntable angle, degrees")
@click.option("--relative", is_flag=True, help="move by the angles instead of to them")
@click.option("--home", is_flag=True, help="home the rotor against its endstop first")
def move(profile, shield, config_file, simulate, rotor, turntable, relative, home):
    """Move the motors (absolute angles count from power-up or from --home)."""
    from .hardware.stepper import HomingError, LimitError
    choice = rig_choice(profile, shield, config_file, simulate)
    if rotor is None and turntable is None and not home:
        raise click.UsageError("give --rotor and/or --turntable (or --home)")
    with _open(choice) as rig:
        try:
            if home and not rig.home():
                raise click.ClickException("this rig has no rotor endstop to home against")
            if relative:
                if rotor is not None:
                    rig.rotor.move_by(rotor)
                if turntable is not None:
                    rig.turntable.move_by(turntable)
            else:
                rig.move_to(rotor, turntable)
        except (LimitError, HomingError) as exc:
            raise click.ClickException(str(exc)) from None
        r, t = rig.angles
        click.echo(f"rotor {r:.2f} deg, turntable {t:.2f} deg")


@main.command()
@with_profile_options
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--autofocus/--no-autofocus", default=True, show_default=True)
def photo(profile, shield, config_file, simulate, path, autofocus):
    """Take one photo (ring light on) and write it to PATH."""
    from .hardware.camera import CameraSettings
    choice = rig_choice(profile, shield, config_file, simulate)
    with _open(choice) as rig:
        rig.camera.apply(CameraSettings.from_profile(choice.profile["camera"]))
        rig.light.on()
        if autofocus and rig.camera.has_autofocus:
            rig.camera.autofocus()
        cap = rig.camera.capture(path)
        rig.light.off()
    click.echo(f"{cap.path}: lens position {cap.metadata.get('LensPosition')}")


@main.command()
@with_profile_options
@click.option("--views", type=click.IntRange(4, 60), default=12, show_default=True)
@click.option("--cols", type=click.IntRange(3, 40), default=10, show_default=True, help="board squares across")
@click.option("--rows", type=click.IntRange(3, 40), default=7, show_default=True, help="board squares down")
@click.option("--square-mm", type=click.FloatRange(min=0.5), default=8.0, show_default=True)
@click.option("--keep", type=click.Path(file_okay=False), help="keep the calibration photos here")
def calibrate(profile, shield, config_file, simulate, views, cols, rows, square_mm, keep):
    """Calibrate the camera from a chessboard lying on the turntable; store it in the config."""
    from tqdm import tqdm

    from .scan.calibrate import Board, CalibrationError, calibrate_rig
    choice = rig_choice(profile, shield, config_file, simulate)
    board = Board(cols, rows, square_mm)
    stop = threading.Event()
    bar = tqdm(total=views, unit="view")

    def on_view(i, n, ok):
        bar.update(1)
        bar.set_postfix_str("board found" if ok else "board NOT found")

    rig = _open(choice, calibration_board=board)
    try:
        result = _run_cancellable(lambda: calibrate_rig(rig, board, views, keep, on_view, stop), stop.set)
    except CalibrationError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
        rig.close()
    user = read_user_config(config_file)
    user["calibration"] = result
    path = write_user_config(user, config_file)
    K = result["K"]
    click.echo(f"fx {K[0][0]:.1f} fy {K[1][1]:.1f} cx {K[0][2]:.1f} cy {K[1][2]:.1f} px, "
               f"reprojection RMS {result['rms_px']:.3f} px over {result['views']} views -> {path}")


for command in (serve, daemon, panel_password, rig_remote, integrate, upload, status, rerun, download):
    main.add_command(command)

if __name__ == "__main__":
    main()
