"""The panel in a real headless Chromium (Debian's, driven by Playwright): `openscan serve` in a
subprocess, a real backend on loopback. Enter the token, click Upload, watch the progress bar
move through the upload and the backend's stages to done, follow the result link, open the 3D view."""
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile

import pytest

from tests.rig_upload.conftest import make_photos
from tests.rig_upload.cutproxy import CutProxy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def open_page(pw):
    """Debian's Chromium, offline flags, one page; ``hosts`` collects every host it contacts."""
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    page = browser.new_context(accept_downloads=True).new_page()
    hosts = set()
    page.on("request", lambda r: hosts.add(re.sub(r"^\w+://([^/:]+).*", r"\1", r.url)))
    return browser, page, hosts


@contextlib.contextmanager
def served(app):
    """The app on a free loopback port in a thread, for a browser; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def panel_url(tmp_path, backend):
    server = backend(env={"FAKE_STAGE_SECONDS": "1.5"},      # slow enough to watch the stages
                     PART_SIZE=1_000_000)
    make_photos(tmp_path / "scans" / "owl", count=8, size=500_000)
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"part_size": 1_000_000}}))
    slow_link = CutProxy(server.port, rate=1_000_000)        # 1 MB/s: the upload takes ~4 s
    env = {**os.environ, "OPENSCAN_DATA_DIR": str(tmp_path / "rig"), "OPENSCAN_CONFIG": str(tmp_path / "rig.json"),
           "OPENSCAN_SCANS_DIR": str(tmp_path / "scans"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "openscan_plugin.cli", "serve", "--host", "127.0.0.1",
                             "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/cloud/)", line)
    assert match, line + proc.stdout.read() if proc.poll() is not None else line
    yield match.group(1), slow_link.url, server.token(), tmp_path / "scans" / "owl"
    proc.terminate()
    assert proc.wait(20) == 0
    slow_link.close()


def test_click_upload_and_watch_it_finish(panel_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    url, server_url, token, scan = panel_url
    with sync_playwright() as pw:
        browser, page, hosts = open_page(pw)
        page.goto(url)
        row = page.locator('tr[data-scan="owl"]')
        expect(row).to_contain_text("8")                       # photos
        expect(row).to_contain_text("not sent")
        page.fill("#server", server_url)
        page.fill("#token", token)
        page.click("#settings-form button")
        expect(page.locator("#token-status")).to_contain_text("credit", timeout=15_000)

        row.locator("button.upload").click()
        status = row.locator("td.status")
        seen, uploaded = set(), []
        deadline = time.monotonic() + 90
        while "done" not in seen:                              # what a user sees, polled
            # state and text in one read: the page may re-render between two
            state, text = status.evaluate("e => [e.dataset.state, e.innerText]")
            if state:
                seen.add(state)
                if state == "uploading":
                    m = re.search(r"uploading ([\d.]+) MB / 4\.0 MB, part (\d)/5", text)
                    assert m, text
                    uploaded.append(float(m.group(1)))
                if state == "processing":
                    assert re.search(r"processing: \w+ \d+%", text), text
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
        assert {"uploading", "processing"} <= seen <= {"queued", "uploading", "processing", "downloading", "done"}
        assert len(set(uploaded)) >= 3 and uploaded == sorted(uploaded)   # live, moving forward

        link = row.locator("a.result-link")
        expect(link).to_be_visible()
        with page.expect_download() as dl:
            link.click()
        path = tmp_path / "from-browser.zip"
        dl.value.save_as(path)
        assert "model.obj" in zipfile.ZipFile(path).namelist()

        # the stand-in pipeline makes no glb: put a real one (open3d) where the real one lands
        import open3d as o3d
        sphere = o3d.geometry.TriangleMesh.create_sphere(10, 10)
        sphere.compute_vertex_normals()
        o3d.io.write_triangle_mesh(str(scan / "model" / "model.glb"), sphere)
        page.reload()
        row.locator("button.view").click()                    # the 3D view section opens
        expect(page.locator("#viewer")).to_be_visible()
        expect(page.locator("#viewer-title")).to_have_text("owl")
        # <model-viewer> came from our static folder (no CDN) and loaded the model
        assert page.evaluate("() => !!customElements.get('model-viewer')")
        page.wait_for_function("() => document.getElementById('model').loaded === true", timeout=20_000)
        browser.close()
    assert hosts == {"127.0.0.1"}, hosts                          # works offline on the Pi
    assert (scan / "model" / "model.obj").is_file()
