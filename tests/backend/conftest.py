"""Backend fixtures: servers on temporary data dirs."""
from pathlib import Path

import pytest

from .server import Server


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(settings=None, worker=True, data_dir=None, env=None):
        folder = Path(data_dir or tmp_path / f"server{len(servers)}")
        folder.mkdir(exist_ok=True)
        servers.append(Server(folder, settings, worker, env))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def app(tmp_path):
    from cloud_backend.api import create_app
    return create_app({"DATA_DIR": str(tmp_path / "data"), "PART_SIZE": 1000})
