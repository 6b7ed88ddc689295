"""The OpenScan2 integration in real Node-RED: node-red + node-red-dashboard from npm (cached),
the flow installed by `openscan integrate openscan2` through the admin API, `openscan daemon
--simulate` scanning a set, a real backend behind a slow link, and the dashboard driven in
headless Chromium: token, Send to cloud, progress, stages, result link and preview, reset and a
second send, and a set stored the way OpenScan2 stores them (one zip). Nothing but 127.0.0.1."""
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests
from werkzeug.security import generate_password_hash

from tests.rig_upload.conftest import make_photos
from tests.rig_upload.cutproxy import CutProxy
from tests.integrations.node_red import NodeRed
from tests.web.test_browser import ARGS, CHROMIUM
from tests.web.test_scan_browser import start_daemon

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]
# The docs' screenshot is retaken only on request, so a test run never changes tracked files.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "openscan2-flow.png"
RETAKE_SCREENSHOT = os.environ.get("OPENSCAN_RETAKE_SCREENSHOTS") == "1"
ZIP_SET = "2024-12-01_10.20.30-owl.zip"           # OpenScan2: <date>_<time>-<project>.zip
PASSWORD = "panel-secret"
AUTH = ("openscan", PASSWORD)
OTHER_FLOW = {"id": "firmware-tab", "type": "tab", "label": "Scan", "disabled": False, "info": "", "env": []}


@pytest.fixture
def rig(tmp_path, backend):
    server = backend(env={"FAKE_STAGE_SECONDS": "1.0"}, PIPELINE="tests.web.model_pipeline", PART_SIZE=200_000)
    slow_link = CutProxy(server.port, rate=150_000)      # ~4 s for a 4-photo set: progress to watch
    node_red = NodeRed(tmp_path / "node-red", env={"OPENSCAN_PANEL_PASSWORD": PASSWORD})
    daemon = start_daemon(tmp_path, {"server": slow_link.url, "part_size": 200_000})
    scan_url, scans = next(daemon)
    config = json.loads((tmp_path / "rig.json").read_text())     # the panel's password (web/guard.py):
    config["panel"] = {"password_hash": generate_password_hash(PASSWORD)}   # the flow must send it
    (tmp_path / "rig.json").write_text(json.dumps(config))
    yield node_red, scan_url.removesuffix("/scan/"), scans, server.token()
    node_red.stop()
    next(daemon, None)                                   # stops the daemon, checks its log
    slow_link.close()


def scan_on_the_rig(daemon_url, name):
    r = requests.post(f"{daemon_url}/scan/api/scan/start", json={"points": 4, "upload": False, "name": name},
                      auth=AUTH)
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 90
    while (s := requests.get(f"{daemon_url}/scan/api/status", auth=AUTH).json())["state"] != "idle" or \
            s["scan"]["state"] != "complete":
        assert time.monotonic() < deadline and s["scan"]["state"] not in ("failed", "cancelled"), s
        time.sleep(0.5)
    return s["scan"]["name"]


def openscan2_zip(scans: Path):
    photos = make_photos(scans.parent / "os2-photos", count=4, size=100_000)
    with zipfile.ZipFile(scans / ZIP_SET, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, p in enumerate(sorted(photos.iterdir()), 1):
            zf.write(p, f"owl_{i}.jpg")


def watch_until_done(row, timeout=90):
    """(state, percent) as the row shows them, polled, until done."""
    seen, deadline = [], time.monotonic() + timeout
    while not seen or seen[-1][0] != "done":
        assert time.monotonic() < deadline, seen
        state, pct = row.get_attribute("data-state"), row.locator(".osc-status").get_attribute("data-percent")
        text = row.locator(".osc-status").inner_text()
        assert state != "failed", text
        if not seen or seen[-1] != (state, pct, text):
            seen.append((state, pct, text))
        time.sleep(0.15)
    return seen


def test_send_to_cloud_from_the_openscan2_dashboard(rig, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    node_red, daemon_url, scans, token = rig
    t0 = time.monotonic()
    requests.post(f"{node_red.url}/flows", json=[OTHER_FLOW], timeout=30).raise_for_status()   # the firmware's
    for _ in range(2):                                   # installing again replaces, keeps the rest
        out = subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "integrate", "openscan2",
                              "--node-red-url", node_red.url, "--daemon-url", daemon_url],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "installed the OpenScanCloud flow" in out.stdout, out.stdout + out.stderr
    deployed = requests.get(f"{node_red.url}/flows", timeout=30).json()
    assert [n["id"] for n in deployed].count("osc-tab") == 1 and OTHER_FLOW in deployed
    name = scan_on_the_rig(daemon_url, "vase")
    openscan2_zip(scans)
    t_ready = time.monotonic()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1240, "height": 560})
        hosts = set()
        page.on("request", lambda r: hosts.add(re.sub(r"^\w+://([^/:]+).*", r"\1", r.url)))
        page.goto(f"{node_red.url}/ui/")
        row = page.locator(f'tr[data-set="{name}"]')
        expect(row).to_contain_text("not sent", timeout=20_000)
        expect(row).to_contain_text("4")                                       # photos
        expect(page.locator(".osc-health")).to_contain_text("no token yet")

        page.fill("#osc-token", token)                                         # write-only
        page.click(".osc-token-save")
        expect(page.locator("md-toast")).to_contain_text("token saved; credit", timeout=20_000)
        expect(page.locator(".osc-health")).to_contain_text("token set", timeout=10_000)
        assert page.input_value("#osc-token") == "" and token not in page.content()

        row.locator(".osc-send").click()
        seen = watch_until_done(row)
        states = [s for s, _, _ in seen]
        uploading = [float(p) for s, p, _ in seen if s == "uploading"]
        assert "uploading" in states and "processing" in states, seen
        assert len(set(uploading)) >= 2 and uploading == sorted(uploading), seen      # progress moves
        stages = {t.split(": ")[1].rsplit(" ", 1)[0] for s, _, t in seen if s == "processing" and ": " in t}
        assert len(stages) >= 2, seen                                         # the backend's stages
        link, preview = row.locator("a.osc-result"), row.locator("img.osc-preview")
        expect(link).to_be_visible(timeout=10_000)
        expect(preview).to_be_visible()
        assert page.evaluate("img => img.naturalWidth", preview.element_handle()) == 320
        r = page.request.get(link.evaluate("a => a.href"))
        assert r.status == 200 and r.body()[:2] == b"PK"                   # the result zip, via Node-RED
        page.screenshot(path=str(SCREENSHOT if RETAKE_SCREENSHOT else tmp_path / SCREENSHOT.name))

        row.locator(".osc-reset").click()                                     # start over: a second send
        expect(row).not_to_have_attribute("data-state", "done", timeout=10_000)
        assert watch_until_done(row)[-1][0] == "done"

        zrow = page.locator(f'tr[data-set="{ZIP_SET}"]')                      # as OpenScan2 stores sets
        expect(zrow).to_contain_text("not sent")
        zrow.locator(".osc-send").click()
        assert watch_until_done(zrow)[-1][0] == "done"
        expect(zrow.locator("a.osc-result")).to_be_visible(timeout=10_000)
        browser.close()
    assert hosts == {"127.0.0.1"}, hosts
    assert sorted(p.name for p in scans.iterdir()) == sorted([name, ZIP_SET, ".openscan-cloud"])
    assert json.loads((tmp_path / "rig.json").read_text())["cloud"]["token"] == token
    print(f"\nflow installed + set scanned in {t_ready - t0:.1f} s, browser part {time.monotonic() - t_ready:.1f} s")
