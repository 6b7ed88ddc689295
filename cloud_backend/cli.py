"""`openscan-cloud`: run the server and the worker, and administer tokens and projects."""
import json
import logging

import click
from sqlalchemy import select

from . import config, consent, projects, redact, scan_options, tokens, webhooks
from .jobs import dispatch
from .db import Database, SchemaError
from .models import Project, Token, TokenRequest
from .storage import open_store


class Context:
    def __init__(self, overrides):
        self.overrides = overrides
        self._settings = None

    @property
    def settings(self):
        if self._settings is None:
            self._settings = config.load(self.overrides)
        return self._settings

    @property
    def job_queue(self):
        return dispatch.job_queue(self.settings)

    def database(self):
        """The database, refused with a clear error when `migrate` has not brought its schema
        up to this version."""
        db = Database(self.settings["DATABASE_URL"])
        try:
            db.check_schema()
        except SchemaError as e:
            raise click.ClickException(str(e)) from None
        return db


pass_ctx = click.make_pass_decorator(Context)


def _data_dir_option(f):
    return click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                        help="Folder for the database, blobs and secret "
                             "(env OPENSCAN_CLOUD_DATA_DIR; default ./data).")(f)


@click.group()
@_data_dir_option
@click.pass_context
def main(ctx, data_dir):
    """OpenScan Cloud backend: a drop-in OpenScanCloud server."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    redact.install()
    ctx.obj = Context({"DATA_DIR": data_dir})


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1334, show_default=True, type=int)
@click.option("--threads", default=16, show_default=True, help="concurrent requests")
@click.option("--no-worker", is_flag=True, help="do not run the embedded job worker")
@_data_dir_option
@pass_ctx
def serve(ctx, host, port, threads, no_worker, data_dir):
    """Serve the API (and, by default, process jobs)."""
    from .server import serve as run_server
    if data_dir:
        ctx.overrides["DATA_DIR"] = data_dir
    if not no_worker:  # the one-box server: it is its own deployment step
        _migrate(ctx)
    ctx.database()
    embedded = ctx.job_queue.runs_inside_serve and not no_worker
    run_server(ctx.settings, host, port, threads=threads, embedded_worker=embedded)


@main.command()
@pass_ctx
def migrate(ctx):
    """Create the database schema or bring it to this version (run once per upgrade, before
    the API and the workers start; `serve` with its own worker does it itself)."""
    _migrate(ctx)
    click.echo("database schema is up to date")


def _migrate(ctx):
    Database(ctx.settings["DATABASE_URL"]).upgrade()


@main.command()
@pass_ctx
def worker(ctx):
    """Process queued jobs, one at a time, until SIGTERM (a Celery worker when JOB_QUEUE=celery)."""
    ctx.database()
    ctx.job_queue.run_worker()


@main.command()
@pass_ctx
def beat(ctx):
    """With JOB_QUEUE=celery: the periodic tasks (re-send jobs of dead workers, expire old
    projects). Run exactly one."""
    try:
        ctx.job_queue.run_beat()
    except ValueError as e:
        raise click.ClickException(str(e)) from None


# --- tokens -----------------------------------------------------------------------------------
@main.group()
def token():
    """Create, list, show, approve and revoke tokens."""


@token.command("create")
@click.option("--mail", required=True)
@click.option("--forename", default="")
@click.option("--lastname", default="")
@click.option("--credit", type=click.IntRange(min=0), help="bytes")
@click.option("--limit-photos", type=click.IntRange(min=1))
@click.option("--limit-filesize", type=click.IntRange(min=1), help="bytes per project")
@pass_ctx
def token_create(ctx, mail, forename, lastname, credit, limit_photos, limit_filesize):
    """Create a token; the token alone is printed on the last line."""
    with ctx.database().session() as session:
        row, value = tokens.create(session, ctx.settings, mail, forename, lastname,
                                   credit, limit_photos, limit_filesize)
        click.echo(f"token {row.id} for {mail}: credit {row.credit} bytes, "
                   f"{row.limit_photos} photos, {row.limit_filesize} bytes per project")
    click.echo(value)


@token.command("list")
@pass_ctx
def token_list(ctx):
    """All tokens, and the requests waiting for approval."""
    with ctx.database().session() as session:
        click.echo(f"{'id':>4}  {'mail':30} {'credit':>14} {'photos':>6} {'filesize':>12} state")
        for row in session.scalars(select(Token).order_by(Token.id)):
            click.echo(f"{row.id:>4}  {row.mail:30} {row.credit:>14} {row.limit_photos:>6} "
                       f"{row.limit_filesize:>12} {'revoked' if row.revoked else 'active'}")
        pending = session.scalars(select(TokenRequest).where(TokenRequest.state == "pending")).all()
        for req in pending:
            click.echo(f"request {req.id}: {req.forename} {req.lastname} <{req.mail}> waits for "
                       f"`token approve {req.id}`")


@token.command("requests")
@pass_ctx
def token_requests(ctx):
    """Token requests, with the tokens issued but not (yet) delivered by mail."""
    with ctx.database().session() as session:
        for req in session.scalars(select(TokenRequest).order_by(TokenRequest.id)):
            undelivered = tokens.unseal(ctx.settings, req)
            click.echo(f"{req.id:>4}  {req.created:%Y-%m-%d %H:%M}  {req.state:8} "
                       f"{req.forename} {req.lastname} <{req.mail}>"
                       + (f"  token: {undelivered}" if undelivered else ""))


@token.command("approve")
@click.argument("request_id", type=int)
@pass_ctx
def token_approve(ctx, request_id):
    """Issue the token of a pending request; the token alone is printed on the last line."""
    db = ctx.database()
    with db.session() as session:
        req = session.get(TokenRequest, request_id)
        if req is None or req.state != "pending":
            raise click.ClickException(f"no pending token request {request_id}")
        letter = tokens.issue(session, ctx.settings, req)
    mailed = tokens.deliver(db, ctx.settings, letter)
    click.echo(f"issued to {letter.mail}" + (" (mailed)" if mailed else ""))
    click.echo(letter.token)


def _find_token(session, ref):
    row = session.get(Token, int(ref)) if ref.isdigit() else tokens.find(session, ref)
    if row is None:
        raise click.ClickException(f"no token {ref!r} (give its id from `token list` or the token)")
    return row


@token.command("show")
@click.argument("ref")
@pass_ctx
def token_show(ctx, ref):
    """One token (by id or by the token itself) and its projects."""
    with ctx.database().session() as session:
        row = _find_token(session, ref)
        click.echo(f"id {row.id}  {row.forename} {row.lastname} <{row.mail}>  created {row.created:%Y-%m-%d}"
                   f"  {'revoked' if row.revoked else 'active'}")
        click.echo(f"credit {row.credit} bytes; limits {row.limit_photos} photos, "
                   f"{row.limit_filesize} bytes per project")
        for p in row.projects:
            click.echo(f"  project {p.id}: {p.name} ({p.status}, {p.filesize} bytes)")


@token.command("revoke")
@click.argument("ref")
@pass_ctx
def token_revoke(ctx, ref):
    """Stop a token from working (its projects stay)."""
    from .models import utcnow
    with ctx.database().session() as session:
        row = _find_token(session, ref)
        row.revoked = utcnow()
        click.echo(f"token {row.id} revoked")


@token.command("webhook")
@click.argument("ref")
@click.argument("url")
@pass_ctx
def token_webhook(ctx, ref, url):
    """Set the default webhook of token REF's projects (URL "" or "none" removes it) and print
    the secret its webhooks are signed with (X-OpenScan-Signature: sha256=HMAC of the body)."""
    url = "" if url.lower() in ("", "none") else url.strip()
    try:
        scan_options.check_webhook(ctx.settings, url, field="URL")
    except projects.ProtocolError as e:
        raise click.ClickException(e.message) from None
    with ctx.database().session() as session:
        row = _find_token(session, ref)
        row.webhook = url
        click.echo(f"token {row.id}: webhook {url or '(none)'}")
        click.echo(f"signing secret: {webhooks.secret(ctx.settings, row)}")


@main.group()
def credit():
    """Change a token's credit."""


@credit.command("add")
@click.argument("ref")
@click.argument("amount", type=int)
@pass_ctx
def credit_add(ctx, ref, amount):
    """Add AMOUNT bytes (negative to take away) to the credit of token REF (id or token)."""
    with ctx.database().session() as session:
        row = _find_token(session, ref)
        if row.credit + amount < 0:
            raise click.ClickException(f"the token has only {row.credit} bytes of credit")
        row.credit += amount
        click.echo(f"token {row.id}: credit {row.credit} bytes")


# --- projects ---------------------------------------------------------------------------------
@main.group()
def project():
    """List, show and reset projects."""


def _find_project(session, ref):
    row = session.get(Project, int(ref)) if ref.isdigit() else session.scalar(
        select(Project).where(Project.uid == ref))
    if row is None:
        raise click.ClickException(f"no project {ref!r} (give its id from `project list`)")
    return row


@project.command("list")
@click.option("--status", help="only projects in this status")
@click.option("--consented", is_flag=True, help="only projects whose users consented to keeping the photos")
@pass_ctx
def project_list(ctx, status, consented):
    with ctx.database().session() as session:
        query = select(Project).order_by(Project.id)
        if status:
            query = query.where(Project.status == status)
        if consented:
            query = query.where(Project.consent.is_(True))
        click.echo(f"{'id':>4} {'token':>5}  {'name':32} {'status':18} {'progress':>8}  stage")
        for p in session.scalars(query):
            click.echo(f"{p.id:>4} {p.token_id:>5}  {p.name:32} {p.status:18} {p.progress:>7.1f}%  {p.stage}")


@project.command("show")
@click.argument("ref")
@pass_ctx
def project_show(ctx, ref):
    with ctx.database().session() as session:
        p = _find_project(session, ref)
        arrived = len(p.uploaded_parts)
        click.echo(f"project {p.id} {p.name!r} of token {p.token_id} ({p.token.mail})\n"
                   f"status {p.status}, stage {p.stage or '-'}, {p.progress:.1f}%\n"
                   f"{p.photos} photos, {p.filesize} bytes in {p.parts} parts ({arrived} arrived)\n"
                   f"created {p.created:%Y-%m-%d %H:%M:%S}, updated {p.updated:%Y-%m-%d %H:%M:%S}"
                   + (f"\nerror: {p.error}" if p.error else "")
                   + f"\noptions {json.dumps(scan_options.effective(ctx.settings, p), sort_keys=True)}"
                   + ("\nphotos deleted after delivery (no consent)" if p.photos_deleted else ""))


@project.command("expire")
@click.option("--days", type=click.IntRange(min=0), help="age limit (default PROJECT_MAX_AGE_DAYS)")
@pass_ctx
def project_expire(ctx, days):
    """Expire projects untouched for the age limit now and delete their data, and delete the
    photos of unconsented projects delivered PHOTO_GRACE_HOURS ago (the worker or beat also
    does this every HOUSEKEEPING_SECONDS)."""
    settings = dict(ctx.settings, PROJECT_MAX_AGE_DAYS=days) if days is not None else ctx.settings
    with ctx.database().session() as session:
        expired, cleared = consent.housekeeping(session, settings, open_store(settings))
    click.echo(f"{len(expired)} project(s) expired" + (f": {', '.join(expired)}" if expired else ""))
    click.echo(f"{len(cleared)} project(s) lost their delivered photos"
               + (f": {', '.join(cleared)}" if cleared else ""))


@project.command("export")
@click.option("--consented", is_flag=True, required=True,
              help="export the projects whose users consented (the only kind exported)")
@click.argument("dest", type=click.Path(file_okay=False))
@pass_ctx
def project_export(ctx, consented, dest):
    """Copy every consented project into DEST/<id>-<name>/: photos.zip, result.zip (when done)
    and options.json."""
    store = open_store(ctx.settings)
    with ctx.database().session() as session:
        for p in consent.consented(session):
            folder = consent.export(ctx.settings, store, p, dest)
            click.echo(f"{p.id} {p.name}: {folder}")


@project.command("reset")
@click.argument("ref")
@pass_ctx
def project_reset(ctx, ref):
    """Delete a project's data (stopping its job), as the client's resetProject does."""
    with ctx.database().session() as session:
        p = _find_project(session, ref)
        task_ids = projects.reset(session, ctx.settings, open_store(ctx.settings), p)
        click.echo(f"project {p.id} {p.name!r} reset")
    for task_id in task_ids:
        ctx.job_queue.cancel(task_id)


if __name__ == "__main__":
    main()
