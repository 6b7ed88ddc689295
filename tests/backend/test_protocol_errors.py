"""Every error row of PROTOCOL.md, plus the refusals a drop-in server owes its users, over HTTP."""
import math

import pytest
import requests

from .helpers import AUTH, Client, make_zip, slices

PART = 1000


SERVER_SETTINGS = {"PART_SIZE": PART}


def error_of(response, status):
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


# --- transport and auth -----------------------------------------------------------------------
def test_status_needs_no_auth(server):
    assert requests.get(f"{server.url}/status").json() == {"status": "online"}


@pytest.mark.parametrize("auth", [None, ("openscan", "wrong"), ("someone", "free")])
def test_wrong_or_missing_basic_auth_is_401(client, auth):
    r = requests.get(f"{client.base}/getTokenInfo", params={"token": client.token}, auth=auth)
    assert "credentials" in error_of(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Basic")


# --- requestToken -----------------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["mail", "forename", "lastname"])
def test_request_token_missing_field_is_400(client, missing):
    params = {"mail": "a@example.org", "forename": "Ada", "lastname": "Lovelace"}
    del params[missing]
    assert missing in error_of(client.call("requestToken", **params), 400)


def test_request_token_garbage_mail_is_400(client):
    r = client.call("requestToken", mail="not-an-address", forename="A", lastname="B")
    assert "mail" in error_of(r, 400)


# --- getTokenInfo -----------------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "x" * 32, "short", "ü" * 32])
def test_token_info_missing_or_unknown_token_is_400(server, token):
    params = {} if token is None else {"token": token}
    r = requests.get(f"{server.url}/getTokenInfo", params=params, auth=AUTH)
    error_of(r, 400)


def test_revoked_token_is_unknown(server):
    from .server import cli
    token = server.token()
    cli(server.data_dir, "token", "revoke", token)
    assert "unknown token" in error_of(Client(server.url, token).call("getTokenInfo"), 400)


# --- getProjectInfo ---------------------------------------------------------------------------
def test_project_info_unknown_project_is_401(client):
    assert "unknown project" in error_of(client.call("getProjectInfo", project="nope.zip"), 401)


def test_project_info_missing_field_or_unknown_token_is_400(client, server):
    error_of(client.call("getProjectInfo"), 400)
    error_of(Client(server.url, "A" * 32).call("getProjectInfo", project="x.zip"), 400)


def test_project_of_another_token_is_unknown(client, server):
    client.create("mine.zip", b"x" * 10, PART)
    other = Client(server.url, server.token())
    error_of(other.call("getProjectInfo", project="mine.zip"), 401)


# --- createProject ----------------------------------------------------------------------------
@pytest.mark.parametrize("params, words", [
    ({"photos": "many", "parts": 1, "filesize": 10}, "photos"),
    ({"photos": 3, "parts": "1.5", "filesize": 10}, "parts"),
    ({"photos": 3, "parts": 1}, "filesize"),
    ({"photos": 3, "parts": 1, "filesize": -5}, "positive"),
    ({"photos": 0, "parts": 1, "filesize": 10}, "positive"),
    ({"photos": 3, "parts": 6, "filesize": 10}, "parts"),        # no slice size makes 6 parts
    ({"photos": 3, "parts": 1, "filesize": 1001}, "parts"),      # needs 2 parts
])
def test_create_project_bad_numbers_are_400(client, params, words):
    assert words in error_of(client.call("createProject", project="p.zip", **params), 400)


def test_create_project_refuses_bad_names(client):
    for name in ["", "a/b.zip", "..", "x\x01.zip"]:
        error_of(client.call("createProject", project=name, photos=1, parts=1, filesize=5), 400)


def test_duplicate_project_name_is_400_once_started_until_reset(client, tmp_path):
    # (while still `created` the same name may be sent again: tests/security/test_resend.py)
    data = make_zip(tmp_path / "s.zip", photos=1).read_bytes()
    assert client.upload_all("dup.zip", data, PART, photos=1).status_code == 200
    r = client.call("createProject", project="dup.zip", photos=1, parts=len(slices(data, PART)),
                    filesize=len(data))
    assert "exists already" in error_of(r, 400)
    assert client.call("resetProject", project="dup.zip").json() == {}
    client.create("dup.zip", b"x" * 10, PART)


def test_limits_are_enforced(server):
    client = Client(server.url, server.token(limit_photos=10, limit_filesize=5000, credit=4000))
    assert "limit" in error_of(client.call("createProject", project="a.zip", photos=11,
                                           parts=1, filesize=100), 400)
    assert "limit" in error_of(client.call("createProject", project="a.zip", photos=5,
                                           parts=6, filesize=5001), 400)
    assert "credit" in error_of(client.call("createProject", project="a.zip", photos=5,
                                            parts=5, filesize=4001), 400)


def test_credit_runs_out_and_reset_gives_it_back(server):
    client = Client(server.url, server.token(credit=2500))
    client.create("one.zip", b"x" * 2000, PART)
    assert client.call("getTokenInfo").json()["credit"] == 500
    assert "credit" in error_of(client.call("createProject", project="two.zip", photos=1,
                                            parts=1, filesize=600), 400)
    client.call("resetProject", project="one.zip")
    assert client.call("getTokenInfo").json()["credit"] == 2500


# --- resetProject / startProject --------------------------------------------------------------
def test_reset_and_start_unknown_project_are_400(client):
    error_of(client.call("resetProject", project="ghost.zip"), 400)
    error_of(client.call("startProject", project="ghost.zip"), 400)
    error_of(client.call("resetProject"), 400)


def test_start_before_all_parts_is_400(client, tmp_path):
    data = make_zip(tmp_path / "s.zip", photos=2).read_bytes()
    links = client.create("early.zip", data, PART)["ulink"]
    assert len(links) == math.ceil(len(data) / PART) >= 3
    for link, part in list(zip(links, slices(data, PART)))[:-1]:
        assert requests.post(link, data=part).status_code == 200
    message = error_of(client.call("startProject", project="early.zip"), 400)
    assert f"missing part(s) {len(links) - 1}" in message
    assert client.call("getProjectInfo", project="early.zip").json()["status"] == "created"


def test_reset_lets_the_same_name_be_uploaded_again(client, tmp_path):
    data = make_zip(tmp_path / "s.zip", photos=2).read_bytes()
    assert client.upload_all("again.zip", data, PART).status_code == 200
    old_links = client.call("getProjectInfo", project="again.zip").json()
    client.call("resetProject", project="again.zip")
    assert client.call("getProjectInfo", project="again.zip").status_code == 401
    assert client.upload_all("again.zip", data, PART).status_code == 200
    assert old_links["status"] == "initialized"


def test_queue_estimate_answers_with_and_without_token(client):
    for params in ({}, {"token": client.token}):
        r = requests.get(f"{client.base}/getQueueEstimate", params=params, auth=AUTH)
        assert r.status_code == 200 and r.json()["estimated_time_seconds"] > 0
