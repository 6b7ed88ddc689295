"""The panel as `openscan daemon --simulate` builds it (the app of create_app with the cloud
service, its queue worker and a simulated rig), served by the daemon's WebServer on loopback,
so every request is real HTTP with the headers an attacker's browser would send; and the
backend's fixtures (real servers on loopback) for the backend's own security tests."""
from dataclasses import replace
import json
import os

import pytest
import requests

from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.config import load_profile
from openscan_plugin.daemon import WebServer
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.controller import ScanController
from openscan_plugin.web import create_app
from openscan_plugin.web.scan_views import rig_status
from tests.rig_upload.conftest import backend, make_photos  # noqa: F401  (a real backend per test)
from tests.backend.conftest import client, server, start_server  # noqa: F401  (the backend's real servers too)

EVIL = "http://evil.example"


class Panel:
    """The running panel: `url`, the rig config file, and the parts behind it."""

    def __init__(self, tmp_path, config: dict, rig: bool = True):
        self.config = tmp_path / "rig.json"
        self.config.write_text(json.dumps(config))
        self.scans = tmp_path / "scans"
        make_photos(self.scans / "owl", count=3, size=20_000)
        settings = load_settings(str(self.config), data_dir=tmp_path / "rig", scans_dir=self.scans)
        settings.retry = replace(settings.retry, entry_pause=0.5)   # resume soon after trouble
        self.service = CloudService(settings)
        self.service.start_worker()
        self.rig = build_simulated_rig(load_profile("mini"), size=(160, 120)) if rig else None
        self.controller = ScanController(self.rig, self.service) if rig else None
        self.app = create_app(self.service, controller=self.controller)
        self.web = WebServer(self.app, "127.0.0.1", 0)
        self.web.start()
        self.url = f"http://127.0.0.1:{self.web.port}"

    def request(self, method, path, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, timeout=30, **kwargs)

    def angles(self):
        return rig_status(self.controller)["angles"]

    def close(self):
        if self.controller:
            self.controller.close()
        self.web.stop()
        if self.rig:
            self.rig.close()
        self.service.stop()


@pytest.fixture
def umask_022():
    """What a login shell has (systemd's UMask=0077 hides the bug): files default to 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def panel(tmp_path, umask_022):
    panels = []

    def start(config=None, rig=True):
        panels.append(Panel(tmp_path, config or {"cloud": {"part_size": 100_000}}, rig))
        return panels[-1]
    yield start
    for p in panels:
        p.close()
