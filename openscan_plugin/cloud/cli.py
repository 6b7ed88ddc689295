"""`openscan upload / status / rerun / download`: the cloud from the command line.

`upload` puts the folder into the same persistent queue the daemon and the web UI use and works
it in the foreground with a progress bar; when the daemon already works the queue, it just
follows the entry's progress. Ctrl-C stops cleanly: the entry stays queued and resumes later.
"""
from __future__ import annotations

import threading
import time

import click

from openscan_protocol import status as project_status
from openscan_protocol.options import DEFAULTS, MASKING, OBJECTTYPE, QUALITY

from .client import CloudClient, CloudError
from .package import PackageError
from .upload_queue import ACTIVE, QueueError, UploadQueue
from .scan_options import CONSENT_TEXT, OptionsError, check_webhook, describe as describe_options, parse_formats
from .service import CloudService
from .settings import load_settings
from .uploader import Uploader, fetch_result

config_option = click.option("--config", "config_file", type=click.Path(dir_okay=False),
                             help="rig config file (default $OPENSCAN_CONFIG or ~/.config/openscan/rig.json)")
data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False),
                               help="where the upload queue lives (default $OPENSCAN_DATA_DIR or "
                                    "~/.local/share/openscan)")
cloud_options = [
    click.option("--server", help="OpenScanCloud server URL (default: the rig config's cloud.server)"),
    click.option("--token", help="your 32-character token (default: the rig config's cloud.token)"),
    data_dir_option,
]


def with_cloud_options(f=None, *, config=True):
    """The cloud options; config=False where the profile options already bring --config."""
    def wrap(f):
        for option in reversed(cloud_options + ([config_option] if config else [])):
            f = option(f)
        return f
    return wrap(f) if f is not None else wrap


def _formats(ctx, param, value):
    if value is None:
        return None
    try:
        return parse_formats(value)
    except OptionsError as exc:
        raise click.BadParameter(str(exc)) from None


def _webhook(ctx, param, value):
    if value is None:
        return None
    try:
        return check_webhook(value)
    except OptionsError as exc:
        raise click.BadParameter(str(exc)) from None


def _default(key) -> str:
    value = DEFAULTS[key]
    return ",".join(value) if isinstance(value, tuple) else str(value).lower() if isinstance(value, bool) else value


# the per-scan cloud options (openscan_protocol.options); not given: the rig's defaults
# (`cloud.scan_options`, set in the panel), else the server's
scan_option_flags = [
    click.option("--quality", type=click.Choice(QUALITY),
                 help=f"reconstruction quality (default {_default('quality')})"),
    click.option("--texture/--no-texture", default=None, help="a textured model (default: textured)"),
    click.option("--masking", type=click.Choice(MASKING),
                 help="auto: the server isolates the object; off; masks: use masks/<image>.png from the "
                      f"folder (default {_default('masking')})"),
    click.option("--objecttype", type=click.Choice(OBJECTTYPE),
                 help=f"object: an object on the turntable; scene: no object isolation (default "
                      f"{_default('objecttype')})"),
    click.option("--formats", callback=_formats, metavar="LIST",
                 help=f"comma-separated result formats (default {_default('formats')})"),
    click.option("--notify/--no-notify", default=None, help="e-mail when done or failed (default: yes)"),
    click.option("--webhook", callback=_webhook, metavar="URL",
                 help="an http(s) URL that gets a signed POST when done or failed ('' for none)"),
    click.option("--consent/--no-consent", default=None, help=CONSENT_TEXT + " (default: no)"),
]


def with_scan_options(f):
    for option in reversed(scan_option_flags):
        f = option(f)
    return f


def describe(e) -> str:
    if e.state == "uploading":
        return f"uploading {e.bytes_done / 1e6:.0f}/{e.size / 1e6:.0f} MB, part {min(e.parts_done + 1, e.parts)}/{e.parts}"
    if e.state == "processing":
        return f"processing: {e.stage or ''} {e.progress or 0:.0f}%"
    if e.state == "done":
        return f"done: model in {e.result}"
    if e.state == "failed":
        return f"failed: {e.error}"
    return e.state + (f" ({e.error})" if e.error else "")


def follow(queue: UploadQueue, entry_id: int, uploader: Uploader | None, done: threading.Event) -> None:
    """Show an entry's progress until `done`: a byte bar while uploading, then the stage."""
    from tqdm import tqdm
    bar, last = None, None
    while not done.wait(0.2):
        e = queue.get(entry_id)
        live = (uploader.live.get(entry_id) if uploader else None) or {}
        if e.state == "uploading":
            if bar is None:
                bar = tqdm(total=e.size, unit="B", unit_scale=True, dynamic_ncols=True, desc="upload")
            bar.n = live.get("bytes_done", e.bytes_done)
            bar.set_postfix_str(f"part {min(live.get('parts_done', e.parts_done) + 1, e.parts)}/{e.parts}",
                                refresh=False)
            bar.refresh()
        elif e.state != "queued":
            if bar is not None:
                bar.n = e.size
                bar.close()
                bar = None
            line = describe(e)
            if line != last:
                click.echo(line)
                last = line
        if e.state not in ACTIVE:
            break
    if bar is not None:
        bar.close()


def work_in_foreground(service: CloudService, entry_id: int) -> None:
    uploader = service.claim_queue()
    if uploader is not None:
        _work(service, entry_id, uploader)
    else:
        click.echo(f"upload #{entry_id} queued; the daemon is working the queue. Following it "
                   "(Ctrl-C stops following, the upload goes on):")
        try:
            follow(service.queue, entry_id, None, threading.Event())
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    _report(service.queue.get(entry_id))


def _work(service: CloudService, entry_id: int, uploader: Uploader) -> None:
    queue = service.queue
    done = threading.Event()
    thread = threading.Thread(target=lambda: (uploader.process(entry_id), done.set()), daemon=True)
    thread.start()
    try:
        follow(queue, entry_id, uploader, done)
        thread.join()
    except KeyboardInterrupt:
        click.echo("\nstopping; the upload stays queued and resumes with `openscan upload --resume "
                   f"{entry_id}` or the daemon", err=True)
        uploader.stop.set()
        thread.join()
        raise SystemExit(130) from None
    finally:
        service.release_queue()


def _report(e) -> None:
    if e.state == "failed":
        again = f"   run again: openscan rerun {e.id}" if e.rerunnable else ""
        raise click.ClickException(f"upload #{e.id} failed: {e.error}\n"
                                   f"  retry: openscan status --retry {e.id}   "
                                   f"start over: openscan status --reset {e.id}{again}")
    if e.state != "done":
        raise click.ClickException(f"upload #{e.id}: {describe(e)}; it stays queued")
    click.echo(describe(e))


@click.command()
@with_cloud_options
@click.argument("folder", type=click.Path(file_okay=False), required=False)
@click.option("--part-size", type=click.IntRange(min=1), hidden=True,
              help="bytes per part (only for servers configured with another PART_SIZE)")
@click.option("--resume", "resume_id", type=int, help="continue queued upload #ID in the foreground")
@click.option("--no-wait", is_flag=True, help="only queue it (the daemon sends it)")
@with_scan_options
def upload(server, token, data_dir, config_file, folder, part_size, resume_id, no_wait, **chosen):
    """Send a folder of photos (a rig scan or any .jpg/.png folder) to OpenScanCloud and fetch
    the model into FOLDER/model/. The cloud options not given here are the rig's defaults
    (the panel's scan settings, `cloud.scan_options` in the rig config)."""
    chosen = {k: v for k, v in chosen.items() if v is not None}
    if resume_id is not None and chosen:
        raise click.UsageError(f"--{next(iter(chosen))} is for new uploads; --resume continues upload "
                               f"#{resume_id} with the options it was queued with")
    settings = load_settings(config_file, server=server, token=token, part_size=part_size,
                             data_dir=data_dir)
    service = CloudService(settings)
    if resume_id is not None:
        try:
            entry = service.queue.get(resume_id)
        except QueueError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        if folder is None:
            raise click.UsageError("give a FOLDER (or --resume ID)")
        try:
            entry = service.enqueue(folder, chosen)
        except (PackageError, QueueError) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"#{entry.id} {entry.label}: {entry.photos} photos, {entry.size / 1e6:.1f} MB in "
                   f"{entry.parts} part(s) -> {entry.server} as {entry.project}; options: "
                   f"{describe_options(entry.cloud_options)}")
    if not no_wait:
        work_in_foreground(service, entry.id)


@click.command()
@data_dir_option
@config_option
@click.option("--retry", "retry_id", type=int, help="send failed/cancelled upload #ID again from where it stopped")
@click.option("--reset", "reset_id", type=int, help="start upload #ID over (resets its project on the server)")
@click.option("--cancel", "cancel_id", type=int, help="cancel upload #ID")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def status(data_dir, config_file, retry_id, reset_id, cancel_id, as_json):
    """The upload queue: every entry's state; retry, reset or cancel one (each entry keeps
    the server and token it was queued with). A finished one runs again with other options
    by `openscan rerun ID`."""
    settings = load_settings(config_file, data_dir=data_dir)
    service = CloudService(settings)
    try:
        if retry_id is not None:
            service.retry(retry_id)
        if reset_id is not None:
            service.reset(reset_id)
        if cancel_id is not None:
            service.cancel(cancel_id)     # a daemon's worker sees it at its next step
    except (QueueError, CloudError, PackageError) as exc:
        raise click.ClickException(str(exc)) from None
    entries = service.queue.list()
    if as_json:
        import json
        click.echo(json.dumps([e.public() for e in entries], indent=1))
        return
    if not entries:
        click.echo(f"no uploads in {settings.queue_path}")
    for e in entries:
        click.echo(f"#{e.id:<3} {e.label:<24} {e.photos:>4} photos {e.size / 1e6:>8.1f} MB  "
                   f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(e.created))}  {describe(e)}")


@click.command()
@data_dir_option
@config_option
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--no-wait", is_flag=True, help="only ask the server (the daemon fetches the new model)")
@with_scan_options
def rerun(data_dir, config_file, entry_id, no_wait, **chosen):
    """Run finished upload #ID again on the server with other cloud options, from the photos
    it still has (no upload), and fetch the new model: it replaces FOLDER/model/ once it is
    complete. Options not given stay as the upload had them."""
    chosen = {k: v for k, v in chosen.items() if v is not None}
    service = CloudService(load_settings(config_file, data_dir=data_dir))
    try:
        entry = service.rerun(entry_id, chosen)
    except (QueueError, CloudError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"#{entry.id} {entry.label}: running again on {entry.server} as {entry.project}; options: "
               f"{describe_options(entry.cloud_options)}")
    if not no_wait:
        work_in_foreground(service, entry.id)


@click.command()
@with_cloud_options
@click.argument("what")
@click.option("--out", type=click.Path(file_okay=False), help="folder for the model (project names only)")
def download(server, token, data_dir, config_file, what, out):
    """Fetch a finished model again: WHAT is a queue entry's #ID, or a project name on the
    server (then --out says where to unpack it)."""
    from pathlib import Path

    from tqdm import tqdm
    settings = load_settings(config_file, server=server, token=token, data_dir=data_dir)
    if what.lstrip("#").isdigit():
        queue = UploadQueue(settings.queue_path)
        try:
            e = queue.get(int(what.lstrip("#")))
        except QueueError as exc:
            raise click.ClickException(str(exc)) from None
        server, token, project, folder = e.server, e.token, e.project, Path(e.folder)
    else:
        if not (settings.server and settings.token and out):
            raise click.UsageError("a project name needs --server, --token (or the rig config) and --out")
        server, token, project, folder = settings.server, settings.token, what, Path(out)
    client = CloudClient(server, token, retry=settings.retry)
    try:
        info = client.project_info(project)
        if info is None:
            raise click.ClickException(f"the server does not know project {project}")
        if info.get("status") != project_status.DONE:
            raise click.ClickException(f"{project} is '{info.get('status')}', no model yet")
        folder.mkdir(parents=True, exist_ok=True)     # --out may not exist yet
        with tqdm(unit="B", unit_scale=True, desc="download") as bar:
            def progress(done, total):
                bar.total = total or None
                bar.n = done
                bar.refresh()
            model = fetch_result(client, info["dlink"], folder, project, progress,
                                 settings.result_limits)
    except CloudError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    click.echo(f"model in {model}")
