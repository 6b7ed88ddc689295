"""/requestToken cannot mint tokens in bulk nor mail anyone text of the caller's choosing
(issue 13.5): limits per client and per mail address (429 with a message), one request per
address waiting for approval, and a mail made only of our words."""
import sqlite3

from ..backend.helpers import Client
from ..backend.test_tokens_and_cli import smtp  # noqa: F401  (fixture)
from .helpers import at_once, codes


def person(mail, forename="Ada"):
    return {"mail": mail, "forename": forename, "lastname": "Lovelace"}


def tokens_issued(server):
    with sqlite3.connect(server.data_dir / "openscan.db") as db:
        return db.execute("select count(*) from tokens").fetchone()[0]


def refused(response):
    return response.status_code == 429 and "too many token requests" in response.json()["error"]


def test_one_client_gets_its_limit_of_tokens_even_all_at_once(start_server):
    server = start_server({"TOKEN_REQUESTS_PER_CLIENT": 5}, worker=False)
    check_one_client_gets_its_limit(server, 5)
    assert tokens_issued(server) == 5


def check_one_client_gets_its_limit(server, limit):
    client = Client(server.url)
    answers = at_once(30, lambda i: client.call("requestToken", **person(f"u{i}@example.org")))
    assert codes(answers) == [200] * limit + [429] * (30 - limit), [r.text for r in answers]
    assert all(refused(r) for r in answers if r.status_code == 429)


def test_one_mail_address_is_mailed_its_limit_and_only_our_words(start_server, smtp):  # noqa: F811
    inbox, settings = smtp
    server = start_server({**settings, "TOKEN_REQUESTS_PER_MAIL": 2}, worker=False)
    client = Client(server.url)
    bait = "Your account is locked, log in at http://evil.example/login"
    for mail in ["victim@example.org", "Victim@Example.org"]:
        assert client.call("requestToken", **person(mail, forename=bait)).json() == {}
    assert refused(client.call("requestToken", **person("VICTIM@example.org")))
    messages = inbox.wait(2)
    assert len(messages) == 2
    assert all(bait not in body and "evil.example" not in body for _, body in messages)


def test_one_request_per_address_waits_for_approval(start_server):
    server = start_server({"TOKEN_ISSUE": "approve"}, worker=False)
    client = Client(server.url)
    assert client.call("requestToken", **person("ada@example.org")).status_code == 200
    r = client.call("requestToken", **person("ADA@example.org"))
    assert r.status_code == 429 and "waits for approval" in r.json()["error"]
    assert client.call("requestToken", **person("bob@example.org")).status_code == 200
