"""Webhooks: when a project ends (``processing done`` or ``processing failed``) its webhook URL
(the project's ``webhook`` option, else its token's default) gets a signed JSON POST.

The body is signed with HMAC-SHA256 under a per-token secret derived from the server secret and
the token row (``secret``): nothing is stored, `openscan-cloud token webhook` prints it, and it
changes only with SECRET_KEY. Delivery runs in a background thread of the worker, after the
project's status is final, with WEBHOOK_ATTEMPTS tries and exponential backoff; failures are
logged, never raised. Deliveries in flight are lost if the worker stops (the status and the
e-mail are not)."""
import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import uuid
import zipfile
from urllib.parse import urlsplit

from openscan_protocol import result as result_files
from openscan_protocol import status as project_status

from . import projects, scan_options
from .models import Job

log = logging.getLogger(__name__)
REPORT_MAX_BYTES = 1 << 20  # a report.json larger than this is not read for the summary


def secret(settings, token_row):
    """The signing secret of a token's webhooks (hex)."""
    key = hashlib.sha256(b"webhook-secret:" + settings["SECRET_KEY"].encode()).digest()
    return hmac.new(key, f"{token_row.id}:{token_row.token_hash}".encode(), hashlib.sha256).hexdigest()


def signature(secret_hex, body):
    """The X-OpenScan-Signature header value for the raw ``body`` bytes."""
    return "sha256=" + hmac.new(secret_hex.encode(), body, hashlib.sha256).hexdigest()


def download_link(settings, links, project):
    base = (settings["PUBLIC_URL"] or project.base_url or "").rstrip("/")
    if project.status != project_status.DONE or not base:
        return ""
    return f"{base}/download/{project.uid}/result.zip?sig={links.sign('download', project.uid, lasting=True)}"


def report_summary(store, project):
    """images registered/given and the mean reprojection error from the result's report.json,
    or {} when it cannot be read cheaply."""
    try:
        with store.open(projects.result_key(project)) as f, zipfile.ZipFile(f) as zf:
            info = zf.getinfo(result_files.REPORT)
            if info.file_size > REPORT_MAX_BYTES:
                return {}
            report = json.loads(zf.read(info))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    if not isinstance(report, dict):
        return {}
    return {k: report.get(k) for k in ("images_given", "images_registered", "reprojection_error_px")}


def event(settings, store, links, project):
    """(url, body bytes, headers) of the project's end event; None without a webhook."""
    url = scan_options.webhook_url(project)
    if not url or project.status not in (project_status.DONE, project_status.FAILED):
        return None
    done = project.status == project_status.DONE
    body = json.dumps({
        "event": "project.done" if done else "project.failed",
        "project": project.name, "status": project.status,
        "dlink": download_link(settings, links, project), "error": project.error,
        "report": report_summary(store, project) if done else {},
        "timestamp": int(time.time()),
    }, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "OpenScan-Cloud-Webhook",
               "X-OpenScan-Event": "project.done" if done else "project.failed",
               "X-OpenScan-Delivery": uuid.uuid4().hex,
               "X-OpenScan-Signature": signature(secret(settings, project.token), body)}
    return url, body, headers


def after_job(settings, db, store, links, job_id):
    """Start delivering the webhook of a job that ended; returns the thread (None: nothing to send)."""
    try:
        with db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.state not in ("done", "failed"):
                return None
            found = event(settings, store, links, job.project)
    except Exception:
        log.exception("could not prepare the webhook of job %s", job_id)
        return None
    if found is None:
        return None
    thread = threading.Thread(target=deliver, args=(settings, *found), daemon=True,
                              name=f"webhook-job-{job_id}")
    thread.start()
    return thread


def deliver(settings, url, body, headers, sleep=time.sleep):
    """POST until a 2xx answer, at most WEBHOOK_ATTEMPTS times, waiting WEBHOOK_BACKOFF,
    then twice as long, ... between tries. True when delivered."""
    attempts, wait = max(1, settings["WEBHOOK_ATTEMPTS"]), settings["WEBHOOK_BACKOFF"]
    for attempt in range(1, attempts + 1):
        try:
            status = post(settings, url, body, headers)
            if 200 <= status < 300:
                return True
            problem = f"HTTP {status}"
        except ValueError as e:  # the URL is refused (scheme, private address): no retry helps
            log.warning("webhook %s not sent: %s", headers.get("X-OpenScan-Event"), e)
            return False
        except (OSError, http.client.HTTPException) as e:
            problem = str(e) or type(e).__name__
        if attempt == attempts:
            log.warning("webhook %s: giving up after %d attempts (%s)", headers.get("X-OpenScan-Event"),
                        attempts, problem)
            return False
        log.info("webhook attempt %d failed (%s); next in %.1f s", attempt, problem, wait)
        sleep(wait)
        wait *= 2
    return False


def post(settings, url, body, headers):
    """One POST to ``url``, connected to an address that passed the check (the name is resolved
    once, here, so it cannot re-resolve to a private address afterwards); no redirects."""
    host, port, scheme, ips = scan_options.addresses(settings, url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = settings["WEBHOOK_TIMEOUT"]
    connection = (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(ips[0], host, port, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, ip, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self):
        self.sock = socket.create_connection((self.ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, ip, host, port, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.ip = ip

    def connect(self):
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
