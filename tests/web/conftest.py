"""The panel's JSON API in-process (Flask's test client) over the real queue and worker, and a
real backend per test on loopback."""
from dataclasses import replace
import json

import pytest

from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.web import create_app
from tests.rig_upload.conftest import backend, make_photos  # noqa: F401  (a real backend per test)


@pytest.fixture
def panel(tmp_path, backend):  # noqa: F811  (pytest passes the fixture imported above)
    server = backend()
    token = server.token(credit=123_000_000)
    scans = tmp_path / "scans"
    make_photos(scans / "owl", count=4, size=30_000)
    make_photos(scans / "vase", count=2, size=10_000)
    (scans / "empty").mkdir()
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"part_size": 100_000}}))
    settings = load_settings(str(config), data_dir=tmp_path / "rig", scans_dir=scans)
    settings.retry = replace(settings.retry, entry_pause=0.5)   # resume soon after trouble
    service = CloudService(settings)
    service.start_worker()
    app = create_app(service)
    yield app.test_client(), server, token, service, config
    service.stop()
