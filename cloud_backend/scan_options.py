"""A project's per-scan options (openscan_protocol.options): what the client sent, what the
pipeline gets, and which webhook URLs the server may call.

Only the options a client sent explicitly are stored, so the server's own
RECONSTRUCTION_OPTIONS (say, quality "preview" on a slow box) still apply to the old clients
that send none."""
import ipaddress
import json
import socket
from urllib.parse import urlsplit

from openscan_protocol import options as protocol_options

from .projects import ProtocolError

SERVER_KEYS = ("notify", "webhook")  # consent has its own column


def given(args):
    """The option arguments of a parsed request (absent ones are not in ``args``)."""
    return {k: v for k, v in args.items() if k in protocol_options.DEFAULTS and k != "consent"}


def stored(project):
    return json.loads(project.options or "{}")


def store(project, options, consent=None):
    project.options = json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
                                 sort_keys=True)
    if consent is not None:
        project.consent = consent


def effective(settings, project):
    """Every option as this project's job uses it: protocol defaults < the server's
    RECONSTRUCTION_OPTIONS < what the client sent."""
    server = {k: v for k, v in settings["RECONSTRUCTION_OPTIONS"].items() if k in protocol_options.PIPELINE_KEYS}
    values = {**protocol_options.DEFAULTS, **server, **stored(project), "consent": bool(project.consent)}
    values["formats"] = list(values["formats"])
    return values


def pipeline(settings, project):
    """The options for pipeline.run: the server's, with the project's pipeline keys over them."""
    mine = {k: v for k, v in stored(project).items() if k in protocol_options.PIPELINE_KEYS}
    return {**settings["RECONSTRUCTION_OPTIONS"], **mine}


def wants_mail(project):
    return bool(stored(project).get("notify", protocol_options.DEFAULTS["notify"]))


def webhook_url(project):
    """The URL to POST to when the project ends: its own, else its token's default."""
    return stored(project).get("webhook") or project.token.webhook or ""


# --- webhook addresses ------------------------------------------------------------------------
def check_webhook(settings, url, field="webhook"):
    """Refuse URLs the server must not call: not http/https, or (unless WEBHOOK_ALLOW_PRIVATE)
    a host that is or resolves to a loopback, private, link-local or otherwise non-public
    address (the server faces the internet: SSRF). Raises ProtocolError (400)."""
    if not url:
        return
    try:
        addresses(settings, url)
    except ValueError as e:
        raise ProtocolError(f"bad parameters: {field}: {e}") from None


def addresses(settings, url):
    """(host, port, scheme, [ip, ...]) of ``url``, every ip allowed; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("has a bad port") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValueError(f"host {parts.hostname!r} cannot be resolved") from None
    ips = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings["WEBHOOK_ALLOW_PRIVATE"]:
        for ip in ips:
            if not ipaddress.ip_address(ip.split("%")[0]).is_global:
                raise ValueError(f"host {parts.hostname!r} is a private or local address ({ip}); "
                                 "this server only calls public addresses")
    return parts.hostname, port, parts.scheme, ips
