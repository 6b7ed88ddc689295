"""The panel's Run again (POST /cloud/api/uploads/<id>/rerun {"options": {...}}) over the real
queue, worker and backend: the new model arrives with the new options; a bad option or an
unfinished upload is a 400 JSON and changes nothing; the guard covers it like every POST."""
import json
import os

import pytest

from .test_api import wait_state
from .test_browser import CHROMIUM, open_page, served

KEPT = ("state", "options", "result", "dlink", "updated")


def model_options(tmp_path) -> dict:
    return json.loads((tmp_path / "scans" / "owl" / "model" / "options.json").read_text())


def test_run_again_from_the_panel(panel, tmp_path):
    client, server, token, service, _ = panel
    client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    entry = client.post("/cloud/api/scans/owl/upload", json={"options": {"quality": "preview"}}).get_json()
    r = client.post(f"/cloud/api/uploads/{entry['id']}/rerun", json={"options": {"quality": "high"}})
    assert r.status_code == 400 and "only a finished one" in r.get_json()["error"]
    done = wait_state(client, entry["id"], "done")
    assert done["rerunnable"] and model_options(tmp_path) == {"quality": "preview"}

    for body, words in [({"options": {"quality": "ultra"}}, "quality must be one of preview, standard, high"),
                        ({"options": {"formats": []}}, "formats: choose at least one"),
                        ({"options": "high"}, "options must be a JSON object")]:
        r = client.post(f"/cloud/api/uploads/{entry['id']}/rerun", json=body)
        assert r.status_code == 400 and words in r.get_json()["error"], (body, r.get_json())
    for hostile in ({"Origin": "http://evil.example"}, {"Host": "evil.example"}):   # another site; DNS rebinding
        r = client.post(f"/cloud/api/uploads/{entry['id']}/rerun", json={"options": {"quality": "high"}}, headers=hostile)
        assert r.status_code == 403 and r.get_json()["error"], hostile
    now = client.get(f"/cloud/api/uploads/{entry['id']}").get_json()
    assert [now[k] for k in KEPT] == [done[k] for k in KEPT]     # nothing changed

    r = client.post(f"/cloud/api/uploads/{entry['id']}/rerun", json={"options": {"quality": "high"}})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "processing" and r.get_json()["options"]["quality"] == "high"
    again = wait_state(client, entry["id"], "done")
    assert again["options"]["quality"] == "high" and again["bytes_sent"] == done["bytes_sent"]
    assert model_options(tmp_path) == {"quality": "high"}
    owl = next(s for s in client.get("/cloud/api/scans").get_json()["scans"] if s["name"] == "owl")
    assert owl["upload"]["state"] == "done" and owl["obj"]


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_run_again_button_sends_the_forms_choices(panel, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    client, server, token, service, _ = panel
    client.post("/cloud/api/settings", json={"server": server.url, "token": token})
    entry = client.post("/cloud/api/scans/owl/upload").get_json()
    wait_state(client, entry["id"], "done")
    app = client.application
    with served(app) as url, sync_playwright() as pw:
        browser, page, _ = open_page(pw)
        # the options form loads after the row is drawn (as on a slow Pi): the button must still send them
        held = []
        page.route("**/api/scan-options", lambda route: held.append(route))
        page.goto(f"{url}/cloud/")
        row = page.locator('tr[data-scan="owl"]')
        expect(row.locator("button.rerun")).to_be_visible()
        held.pop().continue_()
        expect(page.locator('#scan-options-form input[name="texture"]')).to_be_checked()   # form loaded
        page.locator('#scan-options-form select[name="quality"]').select_option("high")
        row.locator("button.rerun").click()
        expect(row.locator("td.status")).not_to_have_attribute("data-state", "done", timeout=5_000)
        expect(row.locator("td.status")).to_have_attribute("data-state", "done", timeout=60_000)
        browser.close()
    assert service.queue.get(entry["id"]).cloud_options["quality"] == "high"
    assert model_options(tmp_path)["quality"] == "high"
