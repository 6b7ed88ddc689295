"""The races of tests/security on PostgreSQL: there the conditional UPDATEs wait on the row lock
and re-check their condition, which is what keeps credit from being spent twice and a rate
limit from being passed."""
import pytest

from ..backend.server import Server
from ..security import test_credit, test_resend, test_tokens_abuse
from . import services

pytestmark = [pytest.mark.scale,
              pytest.mark.skipif(services.missing() is not None, reason=str(services.missing()))]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    postgres = services.Postgres()
    srv = Server(tmp_path_factory.mktemp("box"), {"DATABASE_URL": postgres.url, "PART_SIZE": 1000,
                                                   "TOKEN_REQUESTS_PER_CLIENT": 5},
                 worker=False)
    yield srv
    srv.stop()
    postgres.remove()


def test_credit_for_one_project_buys_exactly_one(server):
    test_credit.check_credit_for_one_project_buys_exactly_one(server)


def test_concurrent_resets_refund_once(server):
    test_credit.check_concurrent_resets_refund_once(server)


def test_concurrent_re_creates_never_charge_twice(server, tmp_path):
    test_resend.test_concurrent_re_creates_never_charge_twice(server, tmp_path)


def test_same_name_created_at_once_is_one_project_charged_once(server, tmp_path):
    test_resend.test_same_name_created_at_once_is_one_project_charged_once(server, tmp_path)


def test_one_client_gets_its_limit_of_tokens_even_all_at_once(server):
    test_tokens_abuse.check_one_client_gets_its_limit(server, 5)
