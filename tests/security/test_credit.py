"""Credit can be neither spent twice nor refunded twice, whatever arrives at the same time
(issue 13.1, 13.2). Real concurrent HTTP requests against `openscan-cloud serve` on SQLite;
tests/scale/test_credit_postgres.py runs the same checks on PostgreSQL."""
from ..backend.helpers import Client
from .helpers import at_once, codes

SIZE = 1000


def create(client, name, filesize=SIZE):
    return client.call("createProject", project=name, photos=3, parts=1, filesize=filesize)


def credit(client):
    return client.call("getTokenInfo").json()["credit"]


def check_credit_for_one_project_buys_exactly_one(server):
    client = Client(server.url, server.token(credit=SIZE + SIZE // 2))
    answers = at_once(16, lambda i: create(client, f"p{i}.zip"))
    assert codes(answers) == [200] + [400] * 15, [r.text for r in answers]
    assert all("not enough credit" in r.json()["error"] for r in answers if r.status_code != 200)
    assert credit(client) == SIZE // 2


def check_concurrent_resets_refund_once(server):
    client = Client(server.url, server.token(credit=3 * SIZE))
    for _ in range(3):
        assert create(client, "p.zip").status_code == 200
        assert credit(client) == 2 * SIZE
        answers = at_once(12, lambda i: client.call("resetProject", project="p.zip"))
        assert codes(answers)[0] == 200 and all(400 <= c < 500 for c in codes(answers)[1:]), \
            [r.text for r in answers]
        assert codes(answers).count(200) == 1
        assert credit(client) == 3 * SIZE


def test_credit_for_one_project_buys_exactly_one(server):
    check_credit_for_one_project_buys_exactly_one(server)


def test_concurrent_resets_refund_once(server):
    check_concurrent_resets_refund_once(server)
