"""The OpenScanCloud endpoints the field clients call: GET with query parameters, Basic auth."""
import hmac

from flask import request
from flask_smorest import Blueprint
from werkzeug.exceptions import Unauthorized

from openscan_protocol import status as project_status

from .. import projects, ratelimit, scan_options, tokens
from ..jobs import queue
from ..projects import ProtocolError
from . import schemas
from .context import external_url, public_base, services

blp = Blueprint("protocol", __name__, description="The OpenScanCloud protocol")
basic_auth = blp.doc(security=[{"basic": []}])


@blp.before_request
def require_basic_auth():
    if request.endpoint == "protocol.status":
        return
    settings, auth = services().settings, request.authorization
    if (auth is None or auth.type != "basic"
            or not hmac.compare_digest((auth.username or "").encode(), settings["AUTH_USER"].encode())
            or not hmac.compare_digest((auth.password or "").encode(), settings["AUTH_PASSWORD"].encode())):
        raise Unauthorized("wrong or missing HTTP Basic credentials")


def _token(session, token):
    row = tokens.find(session, token)
    if row is None:
        raise ProtocolError("unknown token")
    return row


def upload_links(project):
    svc = services()
    if project.direct_upload:
        return [svc.store.url(projects.part_key(project, i), svc.settings["LINK_MAX_AGE"],
                              method="put_object") for i in range(project.parts)]
    return [external_url("parts.part", uid=project.uid, index=i,
                         sig=svc.links.sign("upload", project.uid, i))
            for i in range(project.parts)]


def download_link(project, endpoint="results.result"):
    """The lasting signed link of a done project's result zip (or, endpoint results.report, of
    its report.html); "" until it is done."""
    if project.status != project_status.DONE:
        return ""
    return external_url(endpoint, uid=project.uid,
                        sig=services().links.sign("download", project.uid, lasting=True))


@blp.route("/status")
@blp.response(200, schemas.Online)
def status():
    """Liveness check; the only call without auth."""
    return {"status": "online"}


@blp.route("/requestToken")
@basic_auth
@blp.arguments(schemas.RequestTokenArgs, location="query")
@blp.response(200, schemas.Empty)
def request_token(args):
    """Ask for a token: issued at once (mailed when SMTP is set up) or after admin approval.
    Limited per client and per mail address (429 beyond)."""
    svc = services()
    _limit_token_requests(svc.db, svc.settings, args["mail"])
    with svc.db.session() as session:
        letter = tokens.request(session, svc.settings, args["mail"], args["forename"], args["lastname"])
    if letter:
        tokens.deliver(svc.db, svc.settings, letter)
    return {}


def _limit_token_requests(db, settings, mail):
    for what, key, limit in (
            ("client address", f"client:{request.remote_addr}",
             settings["TOKEN_REQUESTS_PER_CLIENT"]),
            ("mail address", f"mail:{mail.lower()}", settings["TOKEN_REQUESTS_PER_MAIL"])):
        if not ratelimit.allow(db, key, limit, settings["TOKEN_REQUEST_WINDOW"]):
            raise ProtocolError(f"too many token requests for this {what}; try again later",
                                status=429)


@blp.route("/getTokenInfo")
@basic_auth
@blp.arguments(schemas.TokenArgs, location="query")
@blp.response(200, schemas.TokenInfo)
def get_token_info(args):
    """Credit (bytes) and limits of a token."""
    with services().db.session() as session:
        row = _token(session, args["token"])
        return {"credit": row.credit, "limit_filesize": row.limit_filesize,
                "limit_photos": row.limit_photos}


@blp.route("/createProject")
@basic_auth
@blp.arguments(schemas.CreateProjectArgs, location="query")
@blp.response(200, schemas.CreatedProject)
def create_project(args):
    """Register a project, take its size from the credit and hand out one upload link per part."""
    svc = services()
    with svc.db.session() as session:
        row = _token(session, args["token"])
        options = scan_options.given(args)
        scan_options.check_webhook(svc.settings, options.get("webhook", ""))
        project = projects.create(session, svc.settings, svc.store, row, args["project"],
                                  args["photos"], args["parts"], args["filesize"])
        # a new project, or a re-create of a still-created one: this call's options either way
        scan_options.store(project, options, consent=args.get("consent", False))
        project.base_url = public_base()
        if args["direct"]:
            if not svc.store.presigns:
                raise ProtocolError("direct uploads need object storage; send parts to ulink")
            project.direct_upload = True
        return {"status": project_status.CREATED, "ulink": upload_links(project), "credit": row.credit}


@blp.route("/getProjectInfo")
@basic_auth
@blp.arguments(schemas.ProjectArgs, location="query")
@blp.response(200, schemas.ProjectInfo)
def get_project_info(args):
    """Status and progress of a project; ``dlink`` once processing is done. 401: unknown project."""
    with services().db.session() as session:
        # 401 for an unknown project is what the field clients expect here
        project = projects.find(session, _token(session, args["token"]), args["project"], 401)
        accepting = project.status == project_status.CREATED
        return {"dlink": download_link(project), "status": project.status,
                "ulink": upload_links(project) if accepting else [],
                "progress": round(project.progress, 1), "stage": project.stage,
                "error": project.error, "photos": project.photos,
                "created": project.created, "updated": project.updated,
                "options": scan_options.effective(services().settings, project),
                "report": download_link(project, "results.report"),
                "photos_kept": project.photos_deleted is None}


@blp.route("/resetProject")
@basic_auth
@blp.arguments(schemas.ProjectArgs, location="query")
@blp.response(200, schemas.Empty)
def reset_project(args):
    """Delete a project's uploads and results (stopping its job) so the name can be used again."""
    svc = services()
    with svc.db.session() as session:
        project = projects.find(session, _token(session, args["token"]), args["project"])
        task_ids = projects.reset(session, svc.settings, svc.store, project)
    for task_id in task_ids:
        svc.job_queue.cancel(task_id)
    return {}


@blp.route("/startProject")
@basic_auth
@blp.arguments(schemas.ProjectArgs, location="query")
@blp.response(200, schemas.StartedProject)
def start_project(args):
    """Check that every part arrived and the zip is sound, then queue the project."""
    svc = services()
    with svc.db.session() as session:
        project = projects.find(session, _token(session, args["token"]), args["project"])
        job_id = projects.start(session, svc.store, svc.settings, project)
    if job_id is not None:
        svc.job_queue.enqueue(svc.db, job_id)  # after the commit: the job row exists
    return {"status": project_status.INITIALIZED}


@blp.route("/rerunProject")
@basic_auth
@blp.arguments(schemas.RerunProjectArgs, location="query")
@blp.response(200, schemas.StartedProject)
def rerun_project(args):
    """Extension: process a finished project again with other options, from the photos it has
    (no upload). The options given replace the project's; the others stay. 409 while it is not
    finished or once its photos were deleted. A delivered model's re-run costs its filesize
    again; re-running a failed project is free (docs/protocol.md)."""
    svc = services()
    with svc.db.session() as session:
        project = projects.find(session, _token(session, args["token"]), args["project"])
        options = scan_options.given(args)
        scan_options.check_webhook(svc.settings, options.get("webhook", ""))
        job_id = projects.rerun(session, project)
        scan_options.store(project, {**scan_options.stored(project), **options}, consent=args.get("consent"))
        project.base_url = public_base()
    svc.job_queue.enqueue(svc.db, job_id)  # after the commit: the job row exists
    return {"status": project_status.INITIALIZED}


@blp.route("/getQueueEstimate")
@basic_auth
@blp.arguments(schemas.OptionalTokenArgs, location="query")
@blp.response(200, schemas.QueueEstimate)
def get_queue_estimate(args):
    """Seconds until a project queued now would be done, from the queue and recent job times."""
    svc = services()
    with svc.db.session() as session:
        return queue.estimate(session, svc.settings)
