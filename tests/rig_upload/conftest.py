"""Cloud fixtures: a real `openscan-cloud serve` with the fast stand-in pipeline, and photo folders."""
import os
from pathlib import Path

import pytest

from tests.backend.helpers import jpeg_head
from tests.backend.server import Server

FAST = {"PIPELINE": "tests.backend.fake_pipeline"}


def make_photos(folder: Path, count=6, size=40_000, seed=0) -> Path:
    """Random-content files framed as JPEGs (a real header ... EOI): what the backend's checks
    accept without costing an encoder's time."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        body = os.urandom(size)
        (folder / f"scan_{i:04d}.jpg").write_bytes(jpeg_head() + body + b"\xff\xd9")
    return folder


@pytest.fixture
def photos(tmp_path):
    return make_photos(tmp_path / "owl")


@pytest.fixture
def backend(tmp_path):
    """One server per test; PART_SIZE small so a few photos make several parts."""
    servers = []

    def start(env=None, **settings):
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        servers.append(Server(folder, {**FAST, "PART_SIZE": 100_000, **settings}, env=env))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()
