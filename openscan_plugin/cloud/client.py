"""The OpenScanCloud API client (requests): PROTOCOL.md, plus the optional extensions of this
project's server (tus resume on the upload links, Range on the result), so it also works
against a server without them.

Errors come in two kinds: `TransientError` (network, 5xx: worth trying again later) and
`CloudError` (4xx: retrying cannot help, the message says why). `Cancelled` when asked to stop.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Optional

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError

from openscan_protocol import status as project_status
from openscan_protocol.atomic import commit

from .retry import RetryPolicy
from .scan_options import OptionsError, encode, to_params

DEFAULT_AUTH = ("openscan", "free")
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
CHUNK = 1 << 20


class CloudError(Exception):
    """The server refused (4xx): a message for the user; trying again will not help."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


class TransientError(CloudError):
    """Network trouble or a 5xx: the same request may succeed later."""


class Cancelled(Exception):
    """Stopped on request (not an OSError, so no HTTP layer mistakes it for a network error)."""


def _message(r: requests.Response) -> str:
    """The server's reason: our servers send {"error": ...}; older ones anything or nothing."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return r.text.strip()[:200] or f"HTTP {r.status_code} {r.reason}"


class _Body:
    """A streamed request body of known length (requests sends Content-Length, not chunks),
    counting bytes as they go out and stopping when cancelled."""

    def __init__(self, chunks, length, on_chunk, cancel):
        self.chunks, self.length, self.on_chunk, self.cancel = chunks, length, on_chunk, cancel

    def __len__(self):
        return self.length

    def __iter__(self):
        for chunk in self.chunks:
            if self.cancel.is_set():
                raise Cancelled()
            yield chunk
            self.on_chunk(len(chunk))


class CloudClient:
    """One server + token. `cancel` (a threading.Event) stops uploads, polls and downloads."""

    def __init__(self, server: str, token: str, *, auth=DEFAULT_AUTH, retry: RetryPolicy = RetryPolicy(),
                 timeout: float = 60.0, cancel: Optional[threading.Event] = None):
        self.server, self.token = server.rstrip("/"), token
        self.cancel = cancel or threading.Event()
        self.timeout = timeout
        self.retry = retry
        # API calls are idempotent GETs: urllib3 retries them. Part bodies are one-shot
        # streams, so their session has no retries: upload_part resumes them itself.
        self.api = requests.Session()
        self.api.auth = tuple(auth)
        self.api.mount("http://", HTTPAdapter(max_retries=retry.urllib3()))
        self.api.mount("https://", HTTPAdapter(max_retries=retry.urllib3()))
        self.raw = requests.Session()

    # -- protocol calls -----------------------------------------------------------------------
    def call(self, endpoint: str, **params) -> dict:
        try:
            r = self.api.get(f"{self.server}/{endpoint}", params={"token": self.token, **params},
                             timeout=(10, self.timeout))
        except NETWORK_ERRORS as exc:
            raise TransientError(f"{endpoint}: cannot reach {self.server} ({_short(exc)})") from None
        if r.status_code >= 500:
            raise TransientError(f"{endpoint}: server error {r.status_code}: {_message(r)}", r.status_code)
        if r.status_code == 401:            # project_info turns any 401 into None itself
            raise CloudError(f"{endpoint}: the server refused the login (HTTP Basic auth)", 401)
        if r.status_code >= 400:
            raise CloudError(f"{endpoint}: {_message(r)}", r.status_code)
        try:
            return r.json()
        except ValueError:
            raise TransientError(f"{endpoint}: the server did not answer JSON") from None

    def token_info(self) -> dict:
        return self.call("getTokenInfo")

    def preflight(self, photos: int, filesize: int) -> dict:
        """getTokenInfo, then refuse locally what the server would refuse, in plain words."""
        info = self.token_info()
        if photos > info.get("limit_photos", photos):
            raise CloudError(f"this scan has {photos} photos; your token allows at most "
                             f"{info['limit_photos']} per project")
        if filesize > info.get("limit_filesize", filesize):
            raise CloudError(f"this scan is {filesize / 1e6:.1f} MB; your token allows at most "
                             f"{info['limit_filesize'] / 1e6:.1f} MB per project")
        if filesize > info.get("credit", filesize):
            raise CloudError(f"this scan needs {filesize / 1e6:.1f} MB of credit; your token has "
                             f"{info['credit'] / 1e6:.1f} MB left")
        return info

    def create_project(self, project: str, photos: int, parts: int, filesize: int,
                       options: Optional[dict] = None) -> list[str]:
        """createProject; `options` (the scan's cloud options) go along as the extra query
        parameters of openscan_protocol.options, only those that differ from the defaults.
        A 400 that names one is a CloudError saying which and what the server accepts."""
        try:
            extra = to_params(options)
        except OptionsError as exc:          # a queue entry edited by hand: no retry can help
            raise CloudError(f"the scan's cloud options: {exc}") from None
        try:
            links = self.call("createProject", project=project, photos=photos, parts=parts,
                              filesize=filesize, **extra)["ulink"]
        except CloudError as exc:
            if exc.status == 400 and any(k in str(exc) for k in extra):
                raise CloudError(f"{exc} (the scan's cloud options: "
                                 f"{', '.join(f'{k}={v}' for k, v in extra.items())}; change them and "
                                 "send it again)", 400) from None
            raise
        if len(links) != parts:
            raise CloudError(f"createProject gave {len(links)} upload links for {parts} parts")
        return links

    def project_info(self, project: str) -> Optional[dict]:
        """getProjectInfo; None when the server does not know the project (401 by protocol)."""
        try:
            return self.call("getProjectInfo", project=project)
        except CloudError as exc:
            if exc.status == 401:
                return None
            raise

    def start_project(self, project: str) -> dict:
        return self.call("startProject", project=project)

    def reset_project(self, project: str) -> dict:
        return self.call("resetProject", project=project)

    def rerun(self, project: str, params: Optional[dict] = None) -> dict:
        """rerunProject (extension): process a finished project again from the photos the
        server still has. Every option in `params` goes along, encoded as createProject's
        (they replace the project's; the others stay). 409: not finished, or its photos gone."""
        try:
            extra = encode(params)
        except OptionsError as exc:
            raise CloudError(f"the cloud options: {exc}") from None
        return self.call("rerunProject", project=project, **extra)

    # -- parts --------------------------------------------------------------------------------
    def upload_part(self, link: str, package, index: int,
                    on_progress: Callable[[int], None] = lambda pos: None) -> int:
        """Send part `index` of `package` to `link`; returns the bytes actually transmitted.
        Network errors and 5xx: back off and resume from the server's Upload-Offset (tus
        PATCH), or send the part again whole when the server has no tus. 4xx: CloudError."""
        start, _ = package.part_range(index)
        length = package.part_length(index)
        fresh = self.retry.urllib3(server_errors=None)
        retry, sent, best = fresh, 0, -1
        while True:
            try:
                offset = self._held(link, length)
                if (offset or 0) > best:    # progress since the last error: a fresh retry budget
                    retry, best = fresh, offset or 0
                if offset == length:        # all there already (the answer to the last try was lost)
                    on_progress(start + length)
                    return sent
                at = start + (offset or 0)

                def counted(n):
                    nonlocal sent, at
                    sent, at = sent + n, at + n
                    on_progress(at)
                body = _Body(package.iter_part(index, offset or 0), length - (offset or 0),
                             counted, self.cancel)
                if offset:
                    r = self.raw.patch(link, data=body, timeout=(10, 300), headers={
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": str(offset), "Tus-Resumable": "1.0.0"})
                else:
                    r = self.raw.post(link, data=body, timeout=(10, 300),
                                      headers={"Content-Type": "application/octet-stream"})
                if r.status_code >= 500 or r.status_code == 409:   # 409: offset moved, ask again
                    raise TransientError(f"part {index + 1}: server said {r.status_code}: {_message(r)}")
                if r.status_code >= 400:
                    raise CloudError(f"part {index + 1}: {_message(r)}")
                on_progress(start + length)
                return sent
            except (*NETWORK_ERRORS, TransientError) as exc:
                try:
                    retry = retry.increment(method="PUT", url=link, error=exc)
                except MaxRetryError:
                    raise TransientError(f"part {index + 1}: gave up after {len(retry.history) + 1} "
                                         f"tries; last error: {_short(exc)}") from None
                self.sleep(retry.get_backoff_time())

    def _held(self, link: str, length: int) -> Optional[int]:
        """Bytes of the part the server already holds (tus HEAD), None without tus."""
        r = self.raw.head(link, timeout=(10, 30), headers={"Tus-Resumable": "1.0.0"})
        if r.status_code >= 500:
            raise TransientError(f"HEAD {r.status_code}")
        if r.status_code >= 400 and r.status_code not in (404, 405, 501):
            raise CloudError(f"upload link refused: {r.status_code} {r.reason}")
        value = r.headers.get("Upload-Offset") if r.ok else None
        if value is None or not value.isdigit():
            return None
        return min(int(value), length)

    # -- waiting and the result ---------------------------------------------------------------
    def wait(self, project: str, on_info: Callable[[dict], None] = lambda info: None) -> dict:
        """Poll getProjectInfo until a final state, backing off while nothing changes."""
        delay, last = None, None
        while True:
            info = self.project_info(project)
            if info is None:
                raise CloudError(f"the server no longer knows project {project}")
            on_info(info)
            if str(info.get("status", "")).lower() in project_status.FINAL:
                return info
            state = (info.get("status"), info.get("stage"), info.get("progress"))
            delay = self.retry.next_poll(delay, changed=state != last)
            last = state
            self.sleep(delay)

    def download(self, url: str, dest: Path, on_progress: Callable[[int, int], None] = lambda d, t: None,
                 max_bytes: int | None = None) -> Path:
        """Fetch the result zip into `dest`, resuming `dest.part` with Range after a cut. A zip
        over `max_bytes` is refused (and its part deleted): a server must not fill the card."""
        dest, tmp = Path(dest), Path(str(dest) + ".part")
        retry = self.retry.urllib3(server_errors=None)
        while True:
            have = tmp.stat().st_size if tmp.exists() else 0
            try:
                headers = {"Range": f"bytes={have}-"} if have else {}
                with self.raw.get(url, headers=headers, stream=True, timeout=(10, 120)) as r:
                    if r.status_code == 416:      # we already hold it all
                        break
                    if r.status_code >= 500:
                        raise TransientError(f"download: server error {r.status_code}")
                    if r.status_code >= 400:
                        raise CloudError(f"download: {_message(r)}")
                    if r.status_code != 206:     # no Range support: start over
                        have = 0
                    total = have + int(r.headers.get("Content-Length", 0))
                    with open(tmp, "ab" if have else "wb") as f:
                        for chunk in r.iter_content(CHUNK):
                            if self.cancel.is_set():
                                raise Cancelled()
                            f.write(chunk)
                            have += len(chunk)
                            if max_bytes is not None and max(have, total) > max_bytes:
                                tmp.unlink()
                                raise CloudError(f"the result zip is larger than {max_bytes / 1e6:.1f} MB "
                                                 "(cloud.result_limits.max_bytes)")
                            on_progress(have, total)
                    if total and have < total:
                        raise requests.exceptions.ChunkedEncodingError("short read")
                break
            except (*NETWORK_ERRORS, TransientError) as exc:
                try:
                    retry = retry.increment(method="GET", url=url, error=exc)
                except MaxRetryError:
                    raise TransientError(f"download failed: {_short(exc)}") from None
                self.sleep(retry.get_backoff_time())
        commit(tmp, dest)
        return dest

    def sleep(self, seconds: float) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled()

    def close(self):
        self.api.close()
        self.raw.close()


NETWORK_REASONS = ("connection refused", "name or service not known", "temporary failure in name resolution",
                   "network is unreachable", "no route to host", "timed out", "connection reset",
                   "connection aborted", "broken pipe", "remote end closed")


def _short(exc: BaseException) -> str:
    """A short reason without the URL (which carries the token as a query parameter)."""
    text = str(exc).lower()
    for reason in NETWORK_REASONS:
        if reason in text:
            return reason
    if isinstance(exc, CloudError):
        return str(exc)
    return type(exc).__name__
