"""The panel's gate: one `before_request` for every route of the app (both blueprints, static
files, whatever is mounted later). In order, a request is refused when

1. its Host is not a name the rig answers to (DNS rebinding: a page on evil.example whose name
   then resolves to the rig would otherwise read and drive it): 403;
2. it changes state (not GET/HEAD/OPTIONS) and a browser says it comes from another origin
   (`Origin`, else `Referer`, not this Host): 403. A request with neither header is not from a
   browser's cross-site form or fetch (browsers always send Origin there) and may pass: that is
   how scripts and Node-RED call the JSON API;
3. the panel has a password and the request lacks it (HTTP Basic, any user name): 401.

The settings live in the rig config's `panel` section, re-read when the file changes:
`{"panel": {"password_hash": "<werkzeug hash>", "allowed_hosts": ["rig.example.lan"]}}`.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import socket
import threading
from urllib.parse import urlsplit

from flask import jsonify, request
from werkzeug.security import check_password_hash, generate_password_hash

from ..config import ConfigError, config_path, read_user_config, write_user_config

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
USER = "openscan"               # the name the docs give; any name is accepted
CHALLENGE = 'Basic realm="OpenScan rig", charset="UTF-8"'


def set_password(password: str | None, config_file=None):
    """Store the panel password's hash in the rig config (None: no password); returns the file."""
    user = read_user_config(config_file)
    panel = user.setdefault("panel", {})
    if password:
        panel["password_hash"] = generate_password_hash(password)
    else:
        panel.pop("password_hash", None)
    return write_user_config(user, config_file)


def protect(app, config_file=None) -> "PanelGate":
    """Put the gate in front of every route of `app` (once per app)."""
    gate = app.extensions.get("openscan_gate")
    if gate is None:
        gate = app.extensions["openscan_gate"] = PanelGate(config_file)
        app.before_request(gate.refusal)
    return gate


class PanelGate:
    def __init__(self, config_file=None):
        self.path = config_path(config_file)
        name = socket.gethostname().lower()
        # the names the rig answers to on its own: itself, and its mDNS name
        self.own_names = frozenset({"localhost", name, f"{name}.local"})
        self.allowed_hosts: frozenset[str] = frozenset()
        self.password_hash: str | None = None
        self._stamp = object()
        self._key = os.urandom(32)
        self._accepted: set[bytes] = set()     # keyed digests of passwords that matched the hash
        self._check = threading.Lock()         # one slow hash check at a time: bounds memory and guessing

    def refusal(self):
        """None to serve the request, else the JSON answer that refuses it."""
        self._reload()
        host = _host(request.host)
        if not self.host_allowed(host):
            return _error(f"this panel does not answer to the host name {host!r}; if that is the rig, "
                          f"add it to panel.allowed_hosts in {self.path}", 403)
        if request.method not in SAFE_METHODS and not _same_origin():
            return _error("refused a request sent by another web site: the panel only takes changes "
                          "from its own pages or from programs that send no Origin header", 403)
        if self.password_hash and not self._authorized():
            response = _error("this panel needs its password (HTTP Basic auth, user name "
                              f"{USER!r})", 401)
            response.headers["WWW-Authenticate"] = CHALLENGE
            return response
        return None

    def host_allowed(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            ipaddress.ip_address(host)
            return True        # an address cannot be rebound: a page named by one is the rig's own
        except ValueError:
            pass
        host = host.rstrip(".")
        return host in self.own_names or host in self.allowed_hosts or "*" in self.allowed_hosts

    def _authorized(self) -> bool:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.password:
            return False
        digest = hmac.new(self._key, auth.password.encode(), hashlib.sha256).digest()
        if digest in self._accepted:
            return True
        with self._check:
            if digest in self._accepted:         # a page's parallel requests: checked by the first
                return True
            ok = check_password_hash(self.password_hash, auth.password)
            if ok:
                if len(self._accepted) > 16:
                    self._accepted.clear()
                self._accepted.add(digest)
        return ok

    def _reload(self) -> None:
        """Re-read the `panel` settings when the config file changed (a new password applies
        to the next request, no restart needed)."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        try:
            panel = read_user_config(self.path).get("panel", {}) if stamp else {}
        except ConfigError:
            panel = {"password_hash": self.password_hash, "allowed_hosts": self.allowed_hosts}
        hosts = panel.get("allowed_hosts") or []
        hosts = [hosts] if isinstance(hosts, str) else hosts
        self.allowed_hosts = frozenset(str(h).lower().rstrip(".") for h in hosts)
        if panel.get("password_hash") != self.password_hash:
            self._accepted = set()
        self.password_hash = panel.get("password_hash") or None
        self._stamp = stamp


def _same_origin() -> bool:
    """Whether a browser would call this request same-origin (see the module doc)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if source is None:
        return True
    if source == "null":       # sandboxed frames, file:// pages: never the panel itself
        return False
    try:
        return _endpoint(urlsplit(source)) == _endpoint(urlsplit("//" + request.host))
    except ValueError:         # a malformed URL or port
        return False


def _host(host_header: str) -> str | None:
    """The name in a Host header, without port and brackets, lower case."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:
        return None


def _endpoint(url):
    """(host, port) of a split URL; the default ports count as none given (a TLS proxy in
    front may say 443 where the panel sees 80)."""
    return url.hostname, None if url.port in (80, 443) else url.port


def _error(message: str, status: int):
    response = jsonify(error=message)
    response.status_code = status
    return response
