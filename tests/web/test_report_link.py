"""The visual report of a downloaded result in the panel: the panel serves `model/report.html`
sandboxed (a server the rig need not trust wrote it), links it from the result view, and the
page still shows its inline styles, SVG plots and data: thumbnails, but runs no script."""
import json
import os

import cv2
import numpy as np
import pytest

from cloud_backend.reconstruct import report_html
from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.web import create_app
from tests.rig_upload.conftest import make_photos
from tests.web.test_browser import CHROMIUM, open_page

INJECTED = "<script>document.title = 'script ran'</script>"


def small_report(images):
    """A report.html for 8 rig shots on a ring, one of them left out (thumbnail from `images`)."""
    photos = []
    for k in range(8):
        t = 45.0 * k
        c = 260 * np.array([np.cos(np.radians(30)) * np.cos(np.radians(t)),
                            -np.cos(np.radians(30)) * np.sin(np.radians(t)), np.sin(np.radians(30))])
        left = k == 3
        photos.append({"name": f"shot_{k}.jpg", "status": "left out" if left else "registered",
                       "reason": "almost no features: a blank, blurred or overexposed photo" if left else None,
                       "observations": None if left else 100 + 10 * k,
                       "reprojection_error_px": None if left else 0.3 + 0.01 * k,
                       "centre": None if left else [round(v, 3) for v in c],
                       "view": None if left else [round(v, 3) for v in -c / 260],
                       "rotor_deg": 30.0, "turntable_deg": t})
    images.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(images / "shot_3.jpg"), np.full((300, 400, 3), 200, np.uint8))
    report = {"images_given": 8, "images_registered": 7, "reprojection_error_px": 0.33, "units": "mm",
              "scale_source": "manifest rig geometry (pose priors)", "timing_s": {"sfm": 3.0, "dense": 9.0},
              "cpu_s": {}, "photos": photos, "manifest": "used", "options": {"quality": "standard"}}
    return report_html.render(report, images=images)


@pytest.fixture
def panel(tmp_path):
    """The panel app (no backend: nothing is uploaded) with scan `owl` holding a downloaded
    model whose report.html carries a script, and scan `vase` with a model but no report."""
    scans = tmp_path / "scans"
    make_photos(scans / "owl", count=3, size=10_000)
    make_photos(scans / "vase", count=3, size=10_000)
    page = small_report(tmp_path / "photos").replace("</main>", INJECTED + "</main>")
    (scans / "owl" / "model").mkdir()
    (scans / "owl" / "model" / "report.html").write_text(page)
    (scans / "owl" / "model" / "model.stl").write_bytes(b"\0" * 84)   # an empty binary STL
    (scans / "vase" / "model").mkdir()
    (scans / "vase" / "model" / "model.obj").write_text("v 0 0 0\n")
    config = tmp_path / "rig.json"
    config.write_text("{}")
    service = CloudService(load_settings(str(config), data_dir=tmp_path / "rig", scans_dir=scans))
    return create_app(service).test_client()


def test_the_panel_lists_and_serves_the_report_sandboxed(panel):
    scans = {s["name"]: s for s in panel.get("/cloud/api/scans").get_json()["scans"]}
    assert scans["owl"]["report"] == "report.html" and scans["vase"]["report"] is None
    r = panel.get("/cloud/scans/owl/model/report.html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    csp = [part.strip() for part in r.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp and not any("script" in p for p in csp)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert panel.get("/cloud/scans/vase/model/report.html").status_code == 404
    assert 'id="report-link"' in panel.get("/cloud/").get_data(as_text=True)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_the_result_view_links_the_report_and_it_renders_without_scripts(panel):
    """Chromium on the panel (requests answered by the app in-process); the scan list says the
    upload is done, as the worker would once the result is unpacked."""
    from playwright.sync_api import expect, sync_playwright

    def answer(route):
        request = route.request
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        r = panel.open("/" + path, method=request.method, headers={"Host": "localhost"})
        body = r.get_data()
        if path.startswith("cloud/api/scans"):
            data = r.get_json()
            for s in data["scans"]:
                s["upload"] = {"id": 1, "state": "done", "percent": 100, "active": False}
            body = json.dumps(data).encode()
        headers = {k: v for k, v in r.headers.items() if k.lower() != "content-length"}
        route.fulfill(status=r.status_code, headers=headers, body=body)

    with sync_playwright() as pw:
        browser, page, hosts = open_page(pw)
        page.context.route("http://localhost/**", answer)
        page.goto("http://localhost/cloud/")
        page.locator('tr[data-scan="vase"] button.view').click()
        expect(page.locator("#report-link")).to_be_hidden()
        expect(page.locator("#stl-link")).to_be_hidden()
        page.locator('tr[data-scan="owl"] button.view').click()
        link = page.locator("#report-link")
        expect(link).to_be_visible()
        assert link.get_attribute("href") == "/cloud/scans/owl/model/report.html"
        stl = page.locator("#stl-link")   # the print file, offered as a download
        expect(stl).to_be_visible()
        assert stl.get_attribute("href") == "/cloud/scans/owl/model/model.stl" and stl.get_attribute("download") == ""
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
        report.wait_for_load_state()
        assert report.title() == "OpenScan reconstruction report"          # the injected script did not run
        assert report.locator("svg.top g.cam").count() == 7 == report.locator("svg.coverage g.shot").count()
        assert report.locator("svg.top g.cam-missing").count() == 1
        # the inline <style> and style="" attributes apply; the data: thumbnail decodes
        assert report.locator("section").first.evaluate("e => getComputedStyle(e).borderRadius") == "8px"
        assert report.locator("#errors .bar").first.evaluate("e => e.getBoundingClientRect().width") > 10
        thumb = report.locator("figure.left-out img")
        assert thumb.evaluate("i => i.naturalWidth") == 160
        assert "almost no features" in report.locator("figure.left-out .reason").inner_text()
        browser.close()
    assert hosts == {"localhost"}
