"""How the rig's cloud client meets network errors and 5xx answers, in one object: the
settings own it (rig config `cloud.retries` and `cloud.retry`) and hand it whole to the
client and the worker, so one change reaches every loop that retries."""
from __future__ import annotations

from dataclasses import dataclass, replace

from urllib3.util.retry import Retry

from ..config import settings_from_config

SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 6             # per request (API call, part, download); a part that makes
                                 # progress between errors gets a fresh budget
    backoff: float = 1.0         # seconds before the first retry, doubling after each
    backoff_max: float = 60.0
    poll_first: float = 1.0      # getProjectInfo while the server works: this often...
    poll_max: float = 30.0       # ...slowing by half each time nothing changed, up to this
    entry_pause: float = 10.0    # the worker's pause after an entry gave up on transient trouble

    @classmethod
    def from_config(cls, cloud: dict) -> "RetryPolicy":
        """`cloud.retries` (the older key) and any field of `cloud.retry`."""
        section = dict(cloud.get("retry") or {})
        if "retries" in cloud:
            section.setdefault("retries", cloud["retries"])
        return settings_from_config(cls, section, "cloud.retry")

    def urllib3(self, server_errors=SERVER_ERRORS) -> Retry:
        """The same budget as urllib3 counts it; without `server_errors` for loops that
        judge the answers themselves (parts, downloads)."""
        return Retry(total=self.retries, backoff_factor=self.backoff, backoff_max=self.backoff_max,
                     status_forcelist=server_errors, allowed_methods={"GET", "HEAD"},
                     raise_on_status=False, respect_retry_after_header=True)

    def next_poll(self, delay: float | None, changed: bool) -> float:
        """The wait before the next status poll: short again as soon as something moves."""
        return self.poll_first if changed or delay is None else min(delay * 1.5, self.poll_max)

    def quick(self) -> "RetryPolicy":
        """One retry only: for a question a person waits on (checking a token)."""
        return replace(self, retries=1)
