"""Node-RED with node-red-dashboard for tests: installed from npm once into a cache folder
(reused between runs), started on loopback with a fresh user dir and no outside traffic."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.backend.server import free_port

CACHE = Path(os.environ.get("OPENSCAN_NODE_RED_CACHE", "~/.cache/openscan-cloud/node-red")).expanduser()
PACKAGES = {"node-red": "4.1.15", "node-red-dashboard": "3.6.6"}   # Node-RED 4 runs flows made for 2 and 3
RED_JS = CACHE / "node_modules" / "node-red" / "red.js"
SETTINGS = """module.exports = {{
  uiHost: "127.0.0.1", uiPort: {port}, flowFile: "flows.json", credentialSecret: false,
  telemetry: {{ enabled: false }}, diagnostics: {{ enabled: false }},
  logging: {{ console: {{ level: "info" }} }},
  editorTheme: {{ palette: {{ catalogues: [] }}, tours: false, projects: {{ enabled: false }} }}
}};
"""


def installed() -> bool:
    for name, version in PACKAGES.items():
        meta = CACHE / "node_modules" / name / "package.json"
        if not meta.is_file() or json.loads(meta.read_text()).get("version") != version:
            return False
    return True


def ensure_node_red() -> Path:
    """red.js of the cached install; skips the test only when npm or its registry is unreachable."""
    if installed():
        return RED_JS
    npm = shutil.which("npm")
    if not (npm and shutil.which("node")):
        pytest.skip("node/npm are not installed (apt-get install nodejs npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([npm, "view", "node-red", "version"], cwd=CACHE, check=True, timeout=60,
                       capture_output=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"the npm registry is unreachable: {getattr(exc, 'stderr', b'') or exc}")
    if not (CACHE / "package.json").exists():
        (CACHE / "package.json").write_text('{"name": "openscan-test-node-red", "private": true}\n')
    subprocess.run([npm, "install", "--no-audit", "--no-fund", *(f"{n}@{v}" for n, v in PACKAGES.items())],
                   cwd=CACHE, check=True, timeout=900)
    return RED_JS


class NodeRed:
    def __init__(self, user_dir: Path, env: dict | None = None):
        red = ensure_node_red()
        user_dir.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (user_dir / "settings.js").write_text(SETTINGS.format(port=self.port))
        self.log = user_dir / "node-red.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["node", str(red), "--userDir", str(user_dir),
                                          "--settings", str(user_dir / "settings.js")],
                                         stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        # ready once the admin API answers: "Started flows" can be logged before the port listens
        deadline = time.monotonic() + 90
        while not self._answers():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.3)

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "/settings", timeout=10).ok
        except requests.ConnectionError:
            return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
