"""From object to model in a real headless Chromium (Debian's, driven by Playwright):
`openscan daemon --simulate` (gpiozero mock pins, rendered camera) in a subprocess and a real
backend on loopback. Set 24 points, see the path drawn, press scan, reload mid-scan and still see
the live scan, pause and resume, watch it finish, upload and process, then get the result zip,
the preview and the 3D view. Nothing is fetched from anywhere but the rig and the backend."""
import json
import os
import re
import subprocess
import sys
import time
import zipfile

import pytest

from tests.web.test_browser import CHROMIUM, open_page

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")


def start_daemon(tmp_path, cloud: dict):
    """`openscan daemon --simulate` on a free port; yields the scan page's URL."""
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": cloud}))
    env = {**os.environ, "OPENSCAN_DATA_DIR": str(tmp_path / "rig"), "OPENSCAN_CONFIG": str(tmp_path / "rig.json"),
           "OPENSCAN_SCANS_DIR": str(tmp_path / "scans"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "openscan_plugin.cli", "daemon", "--simulate", "--no-trigger",
                             "--host", "127.0.0.1", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while not any("scan control on" in line for line in lines):
        lines.append(proc.stdout.readline())
        assert proc.poll() is None and len(lines) < 50, "".join(lines) + proc.stdout.read()
    url = re.search(r"(http://127\.0\.0\.1:\d+/scan/)", lines[-1]).group(1)
    yield url, tmp_path / "scans"
    proc.terminate()
    code, log = proc.wait(30), proc.stdout.read()
    assert code == 0 and "Traceback" not in log, log


@pytest.fixture
def rig_url(tmp_path, backend):
    server = backend(env={"FAKE_STAGE_SECONDS": "1.0"}, PIPELINE="tests.web.model_pipeline", PART_SIZE=1_000_000)
    yield from start_daemon(tmp_path, {"server": server.url, "token": server.token(), "part_size": 1_000_000})


@pytest.fixture
def tokenless_rig_url(tmp_path):
    yield from start_daemon(tmp_path, {})


def count(page):
    m = re.match(r"(\d+) of (\d+)", page.locator("#count").inner_text())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def test_scan_to_model_in_the_browser(rig_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    url, scans = rig_url
    t0 = time.monotonic()
    with sync_playwright() as pw:
        browser, page, hosts = open_page(pw)
        page.goto(url)
        expect(page.locator("#connection")).to_have_text("live", timeout=30_000)
        # the live preview is a moving picture of the simulated camera
        page.wait_for_function("() => document.getElementById('live').naturalWidth > 0", timeout=60_000)

        # set-up: jog, ring light, camera settings, a test photo
        page.click('.jog[data-motor="turntable"] button[data-deg="45"]')
        expect(page.locator("#turntable-angle")).to_have_text("45.0")
        page.click('.jog[data-motor="rotor"] button[data-deg="10"]')
        expect(page.locator("#rotor-angle")).to_have_text("10.0")
        page.check("#light")
        expect(page.locator("#light")).to_be_checked()
        page.fill("#exposure", "80")
        page.click("#camera-form button")
        expect(page.locator("#camera-message")).to_have_text("applied")
        page.click("#test-photo")
        page.wait_for_function("() => document.getElementById('test-photo-img').naturalWidth === 1280", timeout=30_000)
        page.uncheck("#light")

        page.fill("#points", "24")
        expect(page.locator("#plan-summary")).to_contain_text("24 positions", timeout=10_000)
        expect(page.locator("#path circle.point")).to_have_count(24)
        expect(page.locator("#upload")).to_be_checked()            # one press: scan to model
        page.fill("#points", "0")                                  # a mistake is explained
        expect(page.locator("#message")).to_contain_text("points must be between 1 and 2000")
        page.fill("#points", "24")
        expect(page.locator("#plan-summary")).to_contain_text("24 positions")
        page.click("#start")
        expect(page.locator("#scan-state")).to_have_text("scanning", timeout=30_000)
        page.wait_for_function("() => /^([3-9]|1\\d) of 24/.test(document.getElementById('count').textContent)",
                               timeout=60_000)
        before = count(page)[0]
        expect(page.locator("#eta")).to_contain_text("ETA")

        page.reload()                                              # the daemon holds the state
        expect(page.locator("#scan-state")).to_have_text("scanning", timeout=10_000)
        assert count(page)[1] == 24 and count(page)[0] >= before
        expect(page.locator("#points")).to_have_value("24")       # the running scan's settings
        expect(page.locator("#preset")).to_have_value("custom")  # (not the page's default preset)
        expect(page.locator("#latest")).to_be_visible()
        expect(page.locator("#start")).to_be_disabled()
        expect(page.locator("#exposure")).to_have_value("80")     # camera settings are the daemon's too

        page.click("#pause")
        expect(page.locator("#scan-state")).to_have_text("paused", timeout=20_000)
        held = count(page)[0]
        time.sleep(1.0)
        assert count(page)[0] == held                              # nothing taken while paused
        page.click("#resume")
        expect(page.locator("#scan-state")).not_to_have_text("paused", timeout=10_000)
        photos_seen = set()
        while (state := page.locator("#scan-state").inner_text()) != "complete":
            assert state == "scanning", state
            photos_seen.add(page.locator("#latest").get_attribute("data-photo"))
            assert time.monotonic() - t0 < 240
            time.sleep(0.2)
        assert count(page) == (24, 24) and len(photos_seen) >= 4   # the thumbnail followed the scan
        scan_done = time.monotonic() - t0

        status = page.locator("#upload-status")
        expect(page.locator("#result")).to_be_visible(timeout=10_000)
        seen = set()
        while (s := status.get_attribute("data-state")) != "done":
            assert s != "failed", status.inner_text()
            seen.add(s)
            assert time.monotonic() - t0 < 300, seen
            time.sleep(0.1)
        assert "processing" in seen, seen                          # we watched the backend work
        link = page.locator("#result-link")
        expect(link).to_be_visible()
        with page.expect_download() as dl:
            link.click()
        dl.value.save_as(tmp_path / "model.zip")
        assert {"model.obj", "model.glb", "preview.png"} <= set(zipfile.ZipFile(tmp_path / "model.zip").namelist())
        page.wait_for_function("() => document.getElementById('model-preview').naturalWidth === 320", timeout=10_000)
        assert page.evaluate("() => !!customElements.get('model-viewer')")
        page.locator("#model").scroll_into_view_if_needed()       # where a person looks next
        page.wait_for_function("() => document.getElementById('model').loaded === true", timeout=60_000)
        browser.close()
    total = time.monotonic() - t0
    print(f"\n24-point scan in the browser: scanned after {scan_done:.1f} s, model shown after {total:.1f} s")
    assert hosts == {"127.0.0.1"}, hosts                           # offline: no CDN
    folder = next(scans.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["photos"]) == 24
    assert (folder / "model" / "model.glb").is_file()


def test_cancel_continue_and_no_token_are_explained(tokenless_rig_url):
    """A cancelled scan is not uploaded and can be continued where it stopped; a finished one
    without a token says why and offers the upload button, which answers with the reason."""
    from playwright.sync_api import expect, sync_playwright
    url, scans = tokenless_rig_url
    with sync_playwright() as pw:
        browser, page, _ = open_page(pw)
        page.goto(url)
        expect(page.locator("#connection")).to_have_text("live", timeout=30_000)
        page.fill("#points", "10")
        page.click("#start")
        page.wait_for_function("() => /^[1-5] of 10/.test(document.getElementById('count').textContent)",
                               timeout=60_000)
        page.click("#cancel")
        expect(page.locator("#scan-state")).to_have_text("cancelled", timeout=30_000)
        expect(page.locator("#result")).to_be_hidden()
        expect(page.locator("#start")).to_be_enabled()
        kept = count(page)[0]
        assert 1 <= kept < 10
        folder = next(scans.iterdir())
        assert json.loads((folder / "manifest.json").read_text())["status"] == "cancelled"

        page.click("#continue")
        expect(page.locator("#scan-state")).to_have_text("complete", timeout=60_000)
        expect(page.locator("#count")).to_have_text("10 of 10")
        expect(page.locator("#upload-status")).to_contain_text("not uploaded: no server/token")
        page.click("#upload-now")
        expect(page.locator("#message")).to_contain_text("no server/token")
        browser.close()
    assert [f.name for f in scans.iterdir()] == [folder.name]      # the same folder, completed
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len({p["file"] for p in manifest["photos"]}) == 10
