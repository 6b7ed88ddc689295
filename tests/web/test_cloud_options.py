"""The panel's scan settings (web/cloud_options.py): the rig-wide cloud options saved to the rig
config, a bad value refused with a 400 JSON message, per-upload choices on the upload endpoints,
the panel's guard on the new POST, and one headless-Chromium check of the form."""
import json
import os

import pytest

from openscan_plugin.cloud.scan_options import CONSENT_TEXT, resolve
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.web import create_app
from openscan_plugin.web.guard import set_password
from tests.rig_upload.conftest import make_photos

from .test_browser import CHROMIUM, open_page, served


@pytest.fixture
def rig(tmp_path):
    """The panel over a real queue, no worker (entries stay queued) and no server needed."""
    scans = tmp_path / "scans"
    make_photos(scans / "owl", count=2, size=1000)
    make_photos(scans / "vase", count=2, size=1000)
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"server": "http://127.0.0.1:9", "token": "T" * 32}}))
    service = CloudService(load_settings(str(config), data_dir=tmp_path / "rig", scans_dir=scans))
    app = create_app(service)
    yield app, service, config
    service.stop()


def stored(config):
    return json.loads(config.read_text())["cloud"].get("scan_options")


def test_defaults_saved_and_used_by_uploads(rig):
    app, service, config = rig
    client = app.test_client()
    got = client.get("/cloud/api/scan-options").get_json()
    assert got["options"] == resolve() and got["choices"]["quality"] == ["preview", "standard", "high"]
    assert got["consent_text"] == CONSENT_TEXT
    r = client.post("/cloud/api/scan-options", json={"quality": "high", "texture": False, "formats": ["obj", "stl"],
                                                     "webhook": "https://hooks.example/x", "consent": True})
    assert r.status_code == 200, r.get_json()
    want = resolve({"quality": "high", "texture": False, "formats": ["obj", "stl"],
                    "webhook": "https://hooks.example/x", "consent": True})
    assert r.get_json()["options"] == want and stored(config) == want
    assert json.loads(config.read_text())["cloud"]["token"] == "T" * 32       # the token is untouched
    assert client.get("/cloud/api/scan-options").get_json()["options"] == want
    # a later process reads them (the daemon, `openscan upload`)
    assert load_settings(str(config)).resolved_options() == want
    # the upload button without choices: the rig's defaults
    r = client.post("/cloud/api/scans/owl/upload")
    assert r.status_code == 202 and r.get_json()["options"] == want
    # with choices: this upload's, over the defaults
    r = client.post("/cloud/api/scans/vase/upload", json={"options": {"quality": "preview", "consent": False}})
    assert r.status_code == 202
    assert service.queue.get(r.get_json()["id"]).cloud_options == {**want, "quality": "preview", "consent": False}


def test_bad_values_are_400_json_and_change_nothing(rig):
    app, service, config = rig
    client = app.test_client()
    for body, words in [({"quality": "ultra"}, "quality must be one of preview, standard, high"),
                        ({"formats": []}, "formats: choose at least one"),
                        ({"webhook": "ftp://x"}, "webhook must be an http"),
                        ({"texture": "perhaps"}, "texture must be true or false"),
                        ({"colour": "red"}, "unknown option colour")]:
        r = client.post("/cloud/api/scan-options", json=body)
        assert r.status_code == 400 and words in r.get_json()["error"], (body, r.get_json())
    r = client.post("/cloud/api/scan-options", data="quality=high")
    assert r.status_code == 400 and "send JSON" in r.get_json()["error"]
    assert stored(config) is None
    # a bad per-upload choice: 400, nothing queued
    r = client.post("/cloud/api/scans/owl/upload", json={"options": {"masking": "magic"}})
    assert r.status_code == 400 and "masking must be one of auto, off, masks" in r.get_json()["error"]
    r = client.post("/cloud/api/upload", json={"folder": "owl", "options": "high"})
    assert r.status_code == 400 and "options must be a JSON object" in r.get_json()["error"]
    r = client.post("/cloud/api/sets/owl/send", json={"options": {"quality": "ultra"}})
    assert r.status_code == 400
    assert service.queue.list() == []
    r = client.post("/cloud/api/sets/owl/send", json={"options": {"objecttype": "scene"}})
    assert r.status_code == 202 and r.get_json()["options"]["objecttype"] == "scene"


def test_the_guard_covers_the_new_post(rig, tmp_path):
    app, service, config = rig
    client = app.test_client()
    r = client.post("/cloud/api/scan-options", json={"quality": "high"}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and stored(config) is None
    r = client.post("/cloud/api/scan-options", json={"quality": "high"}, headers={"Origin": "http://localhost"})
    assert r.status_code == 200
    set_password("sesame", str(config))
    r = client.post("/cloud/api/scan-options", json={"quality": "preview"})
    assert r.status_code == 401 and stored(config)["quality"] == "high"
    r = client.post("/cloud/api/scan-options", json={"quality": "preview"}, auth=("openscan", "sesame"))
    assert r.status_code == 200 and stored(config)["quality"] == "preview"


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_form_in_the_browser(rig):
    from playwright.sync_api import expect, sync_playwright
    app, service, config = rig
    with served(app) as url, sync_playwright() as pw:
        browser, page, _ = open_page(pw)
        page.goto(f"{url}/cloud/")
        form = page.locator("#scan-options-form")
        expect(form).to_contain_text(CONSENT_TEXT)
        expect(form.locator('input[name="texture"]')).to_be_checked()       # the defaults, loaded
        expect(form.locator('input[name="consent"]')).not_to_be_checked()
        form.locator('select[name="quality"]').select_option("high")
        form.locator('input[name="texture"]').uncheck()
        form.locator('input[name="formats"][value="ply"]').uncheck()
        form.locator('input[name="consent"]').check()
        form.locator('button[type="submit"]').click()
        expect(page.locator("#scan-options-message")).to_have_text("saved")
        assert stored(config) == resolve({"quality": "high", "texture": False, "formats": ["obj", "glb", "stl"],
                                          "consent": True})
        page.reload()
        expect(form.locator('select[name="quality"]')).to_have_value("high")
        expect(form.locator('input[name="formats"][value="ply"]')).not_to_be_checked()
        # the server's check, shown in the panel
        form.locator('input[name="webhook"]').fill("ftp://hooks.example/x")
        form.locator('button[type="submit"]').click()
        expect(page.locator("#scan-options-message")).to_contain_text("webhook must be an http")
        # an upload from the panel carries the form's choices (unsaved ones too)
        form.locator('input[name="webhook"]').fill("")
        form.locator('select[name="objecttype"]').select_option("scene")
        page.locator('tr[data-scan="owl"] button.upload').click()
        expect(page.locator('tr[data-scan="owl"] td.status')).to_have_attribute("data-state", "queued")
        browser.close()
    (entry,) = service.queue.list()
    assert entry.cloud_options["objecttype"] == "scene" and entry.cloud_options["quality"] == "high"
    assert stored(config)["objecttype"] == "object"


def test_send_again_with_other_options(rig):
    """After a server refused an option: Send again (reset) with the form's choices."""
    from tests.rig_upload.plain_server import PlainServer
    app, service, config = rig
    plain = PlainServer("T" * 32)
    try:
        service.settings.server = plain.url
        client = app.test_client()
        entry = client.post("/cloud/api/scans/owl/upload", json={"options": {"masking": "masks"}}).get_json()
        service.queue.update(entry["id"], state="failed", error="createProject: masking 'masks' needs masks")
        r = client.post(f"/cloud/api/uploads/{entry['id']}/reset", json={"options": {"masking": "off"}})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["state"] == "queued" and r.get_json()["options"]["masking"] == "off"
        r = client.post(f"/cloud/api/uploads/{entry['id']}/reset", json={"options": {"masking": "x"}})
        assert r.status_code == 400 and "masking must be one of" in r.get_json()["error"]
        assert service.queue.get(entry["id"]).cloud_options["masking"] == "off"
    finally:
        plain.stop()
