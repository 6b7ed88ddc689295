"""The application as a whole: its OpenAPI description, schema migrations and error handling."""
import logging

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cloud_backend.models import Base


def test_openapi_describes_every_route_and_method(app):
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static",) or rule.endpoint.startswith("api-docs"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        assert path in spec["paths"], f"{rule.rule} is not described"
        methods = rule.methods - {"OPTIONS"}
        if "GET" in methods:
            methods -= {"HEAD"}  # Flask adds HEAD to every GET route by itself
        for method in methods:
            assert method.lower() in spec["paths"][path], f"{method} {rule.rule} is not described"
    assert spec["paths"]["/getTokenInfo"]["get"]["security"] == [{"basic": []}]
    assert "security" not in spec["paths"]["/status"]["get"]
    params = {p["name"] for p in spec["paths"]["/createProject"]["get"]["parameters"]}
    from openscan_protocol.options import DEFAULTS
    assert params == {"token", "project", "photos", "parts", "filesize", "direct", *DEFAULTS}


def test_migrations_match_the_models(app):
    engine = app.extensions["openscan_cloud"].db.engine
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_unexpected_errors_are_500_with_a_request_id_in_the_log(app, caplog, monkeypatch):
    from cloud_backend import tokens

    def broken(*args):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(tokens, "find", broken)
    with caplog.at_level(logging.ERROR):
        r = app.test_client().get("/getTokenInfo?token=x", headers={
            "Authorization": "Basic b3BlbnNjYW46ZnJlZQ==", "X-Request-ID": "rig-42"})
    assert r.status_code == 500 and r.get_json() == {"error": "internal server error",
                                                     "request_id": "rig-42"}
    assert "rig-42" in caplog.text and "database on fire" in caplog.text


def test_unknown_routes_and_methods_answer_json(app):
    client = app.test_client()
    assert client.get("/nope").get_json()["error"]
    r = client.delete("/status")
    assert r.status_code == 405 and r.get_json()["error"]


def test_an_unknown_job_queue_is_refused_when_the_app_is_built(tmp_path):
    import pytest

    from .helpers import migrated_app
    with pytest.raises(ValueError, match="JOB_QUEUE must be one of embedded, celery, not 'rabbitmq'"):
        migrated_app({"DATA_DIR": str(tmp_path), "JOB_QUEUE": "rabbitmq"})
