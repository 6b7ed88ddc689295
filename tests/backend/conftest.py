"""Backend fixtures: servers on temporary data dirs."""
from pathlib import Path

import pytest

from .helpers import Client
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
    from .helpers import migrated_app
    return migrated_app({"DATA_DIR": str(tmp_path / "data"), "PART_SIZE": 1000})


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    """One server without a worker for a whole test module, with its SERVER_SETTINGS."""
    srv = Server(tmp_path_factory.mktemp("server"), getattr(request.module, "SERVER_SETTINGS", {}),
                 worker=False)
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    """A protocol client with a fresh token."""
    return Client(server.url, server.token())
