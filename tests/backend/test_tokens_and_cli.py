"""Tokens as people get them (requestToken, mail, admin approval) and the admin CLI."""
import re
import sqlite3
import time

import pytest
from aiosmtpd.controller import Controller

from .helpers import Client, make_zip
from .server import cli, free_port

TOKEN = re.compile(r"\b[A-Za-z0-9]{32}\b")
PERSON = {"mail": "ada@example.org", "forename": "Ada", "lastname": "Lovelace"}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"

    def wait(self, count=1, timeout=30):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port}
    controller.stop()


def test_requested_token_is_mailed_at_once_and_works(start_server, smtp):
    inbox, settings = smtp
    server = start_server(settings, worker=False)
    client = Client(server.url)
    assert client.call("requestToken", **PERSON).json() == {}
    [(to, body)] = inbox.wait()
    assert to == ["ada@example.org"]
    token = TOKEN.search(body.split("token is", 1)[1]).group()
    assert client.call("getTokenInfo", token=token).status_code == 200
    listing = cli(server.data_dir, "token", "requests")
    assert "issued" in listing and token not in listing  # delivered: no copy kept
    assert token.encode() not in (server.data_dir / "openscan.db").read_bytes()


def test_without_smtp_the_admin_sees_the_issued_token(start_server):
    server = start_server(worker=False)
    client = Client(server.url)
    client.call("requestToken", **PERSON)
    token = TOKEN.search(cli(server.data_dir, "token", "requests")).group()
    assert client.call("getTokenInfo", token=token).status_code == 200
    hashes = sqlite3.connect(server.data_dir / "openscan.db").execute(
        "select token_hash from tokens").fetchall()
    assert token not in str(hashes) and len(hashes[0][0]) == 64


def test_token_waits_for_approval_when_configured(start_server, smtp):
    inbox, settings = smtp
    server = start_server({**settings, "TOKEN_ISSUE": "approve"}, worker=False)
    client = Client(server.url)
    client.call("requestToken", **PERSON)
    assert "waits for `token approve 1`" in cli(server.data_dir, "token", "list")
    assert inbox.messages == []
    token = cli(server.data_dir, "token", "approve", "1", env={
        f"OPENSCAN_CLOUD_{k}": str(v) for k, v in settings.items()}).strip().splitlines()[-1]
    assert TOKEN.fullmatch(token)
    assert token in inbox.wait()[0][1]
    assert client.call("getTokenInfo", token=token).status_code == 200


def test_admin_cli_manages_tokens_credit_and_projects(start_server, tmp_path):
    server = start_server(worker=False)
    d = server.data_dir
    out = cli(d, "token", "create", "--mail", "bob@example.org", "--credit", 5000,
              "--limit-photos", 7, "--limit-filesize", 4000)
    token = out.strip().splitlines()[-1]
    assert TOKEN.fullmatch(token)
    client = Client(server.url, token)
    assert client.call("getTokenInfo").json() == {"credit": 5000, "limit_filesize": 4000,
                                                  "limit_photos": 7}
    assert "bob@example.org" in cli(d, "token", "list")
    cli(d, "credit", "add", token, 1000)
    assert client.call("getTokenInfo").json()["credit"] == 6000

    data = make_zip(tmp_path / "z.zip", photos=1).read_bytes()
    client.upload_all("bob.zip", data, 200_000_000)
    listing = cli(d, "project", "list")
    assert "bob.zip" in listing and "initialized" in listing
    assert "1 photos" in cli(d, "project", "show", "1")
    assert "bob.zip" in cli(d, "token", "show", token)
    cli(d, "project", "reset", "1")
    assert client.call("getProjectInfo", project="bob.zip").status_code == 401
    assert client.call("getTokenInfo").json()["credit"] == 6000  # given back by the reset

    cli(d, "token", "revoke", "1")
    assert client.call("getTokenInfo").status_code == 400


def _admin(data_dir, *args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "cloud_backend.cli", "--data-dir", str(data_dir),
                           *args], capture_output=True, text=True)


def test_the_schema_changes_only_in_the_explicit_migrate_step(tmp_path):
    from cloud_backend.api import create_app
    from cloud_backend.db import SchemaError

    r = _admin(tmp_path, "token", "list")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert re.fullmatch(r"Error: the database schema is at nothing yet and this version needs \w+: "
                        r"run `openscan-cloud migrate` first", r.stderr.strip().splitlines()[-1])
    with pytest.raises(SchemaError, match="openscan-cloud migrate"):
        create_app({"DATA_DIR": str(tmp_path)})

    assert _admin(tmp_path, "migrate").stdout.strip() == "database schema is up to date"
    assert _admin(tmp_path, "token", "list").returncode == 0
    assert create_app({"DATA_DIR": str(tmp_path)})


def test_cli_errors_are_one_clear_line(tmp_path):
    assert _admin(tmp_path, "migrate").returncode == 0
    r = _admin(tmp_path, "credit", "add", "99", "10")
    assert r.returncode != 0 and "no token '99'" in r.stderr
    # one line, no traceback; the database set-up may log INFO lines before it
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("Error: no token '99'"), r.stderr


def test_owner_is_mailed_when_the_model_is_done(start_server, smtp, tmp_path):
    inbox, settings = smtp
    server = start_server({**settings, "PIPELINE": "tests.backend.fake_pipeline"})
    client = Client(server.url, server.token())
    client.upload_all("owl.zip", make_zip(tmp_path / "z.zip").read_bytes(), 200_000_000)
    [(to, body)] = inbox.wait()
    assert to == ["rig@example.org"] and "owl.zip is ready" in body
