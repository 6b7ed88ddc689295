"""Per-scan options on createProject (openscan_protocol/options.py): old clients get the
defaults, bad values are a 400 naming the field and what it accepts, the job gets what the
user chose, and notify=false means no e-mail."""
import io
import json
import zipfile

import pytest
import requests

from openscan_protocol.options import DEFAULTS

from .helpers import Client, make_zip
from .test_jobs import done, watch
from .test_tokens_and_cli import smtp  # noqa: F401 (fixture)

PART = 1000
SERVER_SETTINGS = {"PART_SIZE": PART}


def create(client, name, **options):
    return client.call("createProject", project=name, photos=3, parts=2, filesize=1500, **options)


def info(client, name):
    return client.call("getProjectInfo", project=name).json()


def test_an_old_client_sending_no_options_gets_the_defaults(client):
    assert create(client, "old.zip").status_code == 200
    options = info(client, "old.zip")["options"]
    assert options == {**DEFAULTS, "formats": list(DEFAULTS["formats"])}


@pytest.mark.parametrize("field, value, accepted", [
    ("quality", "ultra", "preview, standard, high"),
    ("masking", "maybe", "auto, off, masks"),
    ("objecttype", "car", "object, scene"),
    ("formats", "obj,fbx", "obj, glb, stl, ply"),
    ("formats", "", "obj, glb, stl, ply"),
    ("texture", "perhaps", "true or false"),
    ("consent", "2", "true or false"),
    ("webhook", "ftp://example.org/hook", "http:// or https://"),
])
def test_a_bad_option_is_a_400_naming_the_field_and_what_it_accepts(client, field, value, accepted):
    r = create(client, f"bad-{field}.zip", **{field: value})
    assert r.status_code == 400, r.text
    message = r.json()["error"]
    assert f"{field}:" in message and accepted in message, message
    assert client.call("getProjectInfo", project=f"bad-{field}.zip").status_code == 401  # nothing made


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost/hook",
                                 "https://10.1.2.3/hook", "http://[::1]/", "http://169.254.169.254/"])
def test_webhooks_to_private_addresses_are_refused_on_an_internet_server(client, url):
    r = create(client, "ssrf.zip", webhook=url)
    assert r.status_code == 400 and "webhook:" in r.json()["error"], r.text
    assert "private or local" in r.json()["error"]


def test_options_are_echoed_and_a_recreate_takes_the_new_ones(client):
    r = create(client, "owl.zip", quality="high", texture="false", formats="stl, obj",
               objecttype="scene", notify="no", consent="yes")
    assert r.status_code == 200, r.text
    options = info(client, "owl.zip")["options"]
    assert options["quality"] == "high" and options["texture"] is False
    assert options["formats"] == ["stl", "obj"] and options["objecttype"] == "scene"
    assert options["notify"] is False and options["consent"] is True
    assert options["masking"] == "auto"  # not sent: the default

    # OpenScan2 re-sends a set by calling createProject again: that call's options count
    assert create(client, "owl.zip", quality="preview").status_code == 200
    options = info(client, "owl.zip")["options"]
    assert options["quality"] == "preview" and options["texture"] is True
    assert options["consent"] is False and options["formats"] == list(DEFAULTS["formats"])


def test_the_job_gets_the_chosen_options_over_the_servers(start_server, tmp_path):
    server = start_server({"PIPELINE": "tests.backend.fake_pipeline",
                           "RECONSTRUCTION_OPTIONS": {"quality": "preview", "preview_size": 320}})
    client = Client(server.url, server.token())
    data = make_zip(tmp_path / "z.zip").read_bytes()
    client.upload_all("chosen.zip", data, 200_000_000, quality="high", texture="0", formats="ply")
    client.upload_all("plain.zip", data, 200_000_000)
    got = {}
    for name in ("chosen.zip", "plain.zip"):
        final = watch(client, name, done)[-1]
        assert final["status"] == "processing done", final
        result = zipfile.ZipFile(io.BytesIO(requests.get(final["dlink"]).content))
        got[name] = json.loads(result.read("options.json"))
    assert got["chosen.zip"] == {"quality": "high", "texture": False, "formats": ["ply"],
                                 "preview_size": 320}
    # an old client's scan runs as the server is configured (its quality), not the protocol default
    assert got["plain.zip"] == {"quality": "preview", "preview_size": 320}
    assert info(client, "plain.zip")["options"]["quality"] == "preview"


def test_notify_false_means_no_mail(start_server, smtp, tmp_path):  # noqa: F811
    inbox, settings = smtp
    server = start_server({**settings, "PIPELINE": "tests.backend.fake_pipeline"})
    client = Client(server.url, server.token())
    data = make_zip(tmp_path / "z.zip").read_bytes()
    client.upload_all("quiet.zip", data, 200_000_000, notify="false")
    watch(client, "quiet.zip", done)
    client.upload_all("loud.zip", data, 200_000_000)
    watch(client, "loud.zip", done)
    messages = inbox.wait(1)
    assert len(messages) == 1 and "loud.zip is ready" in messages[0][1]
