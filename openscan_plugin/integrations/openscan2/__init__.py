"""OpenScan2's web interface is a Node-RED dashboard: `flow.json` here adds a "Cloud" tab to it
that lists the photo sets and sends them through the local `openscan daemon` (its JSON API:
`/cloud/api/sets`, `/cloud/api/health`, `/cloud/api/settings`). `install()` puts the flow into a
running Node-RED through its admin API, replacing an earlier install and leaving every other
flow as it is."""
from __future__ import annotations

import json
from importlib import resources

import requests

TAB_ID = "osc-tab"
DAEMON_ENV = "OPENSCAN_DAEMON"
NEEDED_TYPES = ("ui_template", "ui_text", "ui_toast")     # from node-red-dashboard
API = {"Node-RED-API-Version": "v2"}


class InstallError(RuntimeError):
    """Node-RED cannot take the flow (unreachable, refused, dashboard missing)."""


def load_flow(daemon_url: str = "http://127.0.0.1:8080") -> list[dict]:
    """The flow's nodes, talking to the daemon at `daemon_url`."""
    nodes = json.loads(resources.files(__package__).joinpath("flow.json").read_text())
    tab = next(n for n in nodes if n["id"] == TAB_ID)
    for var in tab["env"]:
        if var["name"] == DAEMON_ENV:
            var["value"] = daemon_url.rstrip("/")
    return nodes


def install(flow: list[dict], node_red_url: str, token: str | None = None, timeout: float = 30) -> int:
    """Deploy `flow` into the Node-RED at `node_red_url` (POST /flows with the current revision).
    Returns how many nodes the deployed configuration holds."""
    base = node_red_url.rstrip("/")
    headers = dict(API, **({"Authorization": f"Bearer {token}"} if token else {}))
    session = requests.Session()
    session.headers.update(headers)
    try:
        types = {t for s in _get(session, f"{base}/nodes", timeout, {"Accept": "application/json"})
                 for t in s.get("types", [])}
        missing = [t for t in NEEDED_TYPES if t not in types]
        if missing:
            raise InstallError(f"Node-RED at {base} lacks {', '.join(missing)}: install node-red-dashboard "
                               "(Manage palette) first")
        current = _get(session, f"{base}/flows", timeout)
        ours = {n["id"] for n in flow}
        kept = [n for n in current.get("flows", []) if n["id"] not in ours and n.get("z") != TAB_ID]
        body = {"rev": current.get("rev"), "flows": kept + flow}
        r = session.post(f"{base}/flows", json=body, timeout=timeout,
                         headers={"Node-RED-Deployment-Type": "nodes"})
    except requests.RequestException as exc:
        raise InstallError(f"cannot reach Node-RED at {base}: {exc}") from None
    if r.status_code == 409:
        raise InstallError("Node-RED's flows changed while installing; run the command again")
    if r.status_code >= 400:
        raise InstallError(f"Node-RED refused the flow: HTTP {r.status_code} {r.text[:300]}")
    return len(body["flows"])


def _get(session, url, timeout, headers=None):
    r = session.get(url, timeout=timeout, headers=headers)
    if r.status_code == 401:
        raise InstallError(f"{url}: Node-RED's admin API wants a login; pass --node-red-token "
                           "(see `node-red-admin login`)")
    if r.status_code >= 400:
        raise InstallError(f"{url}: HTTP {r.status_code} {r.text[:300]}")
    return r.json()
