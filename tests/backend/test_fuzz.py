"""No input makes the server fail: schemathesis generates requests (valid and invalid, with and
without auth) for every operation in /openapi.json; none may answer 500."""
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.backend.helpers import migrated_app  # noqa: E402


def _app_and_token():
    import tempfile

    from cloud_backend import tokens
    app = migrated_app({"DATA_DIR": tempfile.mkdtemp(prefix="fuzz"), "PART_SIZE": 1000})
    services = app.extensions["openscan_cloud"]
    with services.db.session() as session:
        _, token = tokens.create(session, services.settings, "fuzz@example.org")
    return app, token


APP, TOKEN = _app_and_token()
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_500(case):
    if case.query and "token" in case.query:
        case.query["token"] = TOKEN  # a real token, so the checks behind it are reached too
    case.call_and_validate(headers={"Authorization": "Basic b3BlbnNjYW46ZnJlZQ=="},
                           checks=[not_a_server_error])
