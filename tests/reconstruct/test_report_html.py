"""report.html, the result's visual report, as a browser shows it: a small rendered rig scan with a
foreign photo in place of one rig shot, two foreign extras and a duplicate goes through the whole
pipeline; Debian's headless Chromium opens the report.html of the result zip from disk, offline."""
import io
import json
import os
import pathlib
import re
import shutil
import zipfile

import cv2
import numpy as np
import pytest

from cloud_backend.reconstruct import pipeline, report_html, synthetic
from tests.reconstruct.test_registration import foreign_photo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "images" / "report-html.png"
# The docs' screenshot is retaken only on request, so a test run never changes tracked files.
RETAKE_SCREENSHOT = os.environ.get("OPENSCAN_RETAKE_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def result(tmp_path_factory, fast_options):
    """(report.json, report.html path) of the scan: 24 rig shots, one of them replaced by a photo
    of something else (its angles stay in the manifest), 2 foreign extras, 1 duplicate."""
    buf, cams = synthetic.scan_zip(12, (20.0, 45.0), 480, 360, manifest="full")
    replaced = cams[7][0]
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for entry in src.infolist():
            dst.writestr(entry.filename, foreign_photo(7) if entry.filename == replaced else src.read(entry))
        dst.writestr("other_a.png", foreign_photo(1))
        dst.writestr("other_b.png", foreign_photo(2))
        dst.writestr("zz_copy.png", src.read(cams[0][0]))
    out.seek(0)
    work = tmp_path_factory.mktemp("job")
    zip_path = pipeline.run(out, work, dict(fast_options, max_image_size=480))
    folder = tmp_path_factory.mktemp("result")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    return json.loads((folder / "report.json").read_text()), folder / "report.html", replaced


@pytest.mark.slow
def test_report_json_has_a_row_per_photo(result):
    report, _, replaced = result
    rows = {p["name"]: p for p in report["photos"]}
    assert len(report["photos"]) == report["images_given"] == 27
    assert sum(p["status"] == "registered" for p in rows.values()) == report["images_registered"] == 23
    assert {n for n, p in rows.items() if p["status"] == "left out"} == {replaced, "other_a.png", "other_b.png"}
    assert rows["zz_copy.png"]["status"] == "skipped" and "duplicate" in rows["zz_copy.png"]["reason"]
    registered = [p for p in rows.values() if p["status"] == "registered"]
    assert all(0 < p["reprojection_error_px"] < 2 and p["observations"] > 20 for p in registered)
    # mm frame: the cameras are where the rig put them, 260 mm from the axis
    assert all(abs(sum(c * c for c in p["centre"]) ** 0.5 - 260) < 10 for p in registered)
    assert rows[replaced]["rotor_deg"] is not None and rows["other_a.png"]["rotor_deg"] is None


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_report_html_renders_offline_on_a_desktop_and_a_phone(result, tmp_path):
    from playwright.sync_api import sync_playwright

    report, page_file, replaced = result
    text = page_file.read_text()
    assert "<script" not in text.lower() and not re.search(r'(src|href)="(?!data:|#)', text)
    assert len(text) < 1_000_000
    registered = report["images_registered"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        schemes = set()
        page.on("request", lambda r: schemes.add(r.url.split(":", 1)[0]))
        page.goto(page_file.as_uri())
        count = lambda selector: page.locator(selector).count()   # noqa: E731
        # one marker per registered photo in both camera plots; the replaced rig shot where the rig says
        assert count("svg.top g.cam") == count("svg.side g.cam") == registered
        assert count("svg.top g.cam-missing") == count("svg.side g.cam-missing") == 1
        assert page.locator("svg.top g.cam-missing").get_attribute("data-name") == replaced
        # coverage: every photo with rig angles, the left-out one as a cross
        assert count("svg.coverage g.shot") == registered and count("svg.coverage g.shot-missing") == 1
        # the left-out photos as decoded thumbnails of at most 160 px, each with its reason
        reasons = {p["name"]: p["reason"] for p in report["photos"] if p["status"] == "left out"}
        figures = page.locator("figure.left-out")
        assert figures.count() == 3
        for k in range(3):
            fig = figures.nth(k)
            name = fig.get_attribute("data-name")
            assert fig.locator(".reason").inner_text() == reasons[name]
            size = fig.locator("img").evaluate("i => [i.naturalWidth, i.naturalHeight, i.complete]")
            assert 0 < max(size[:2]) <= 160 and size[2]
        assert "duplicate" in page.locator("li.skipped").inner_text()
        # the preview decoded; the error table lists every registered photo, worst first
        assert page.locator("#preview img").evaluate("i => i.naturalWidth") > 100
        # (the worst 12 shown, the rest in a closed <details>: textContent, not innerText)
        errors = [float(t) for t in page.locator("#errors tbody td.num:nth-child(2)").evaluate_all(
            "cells => cells.map(c => c.textContent)")]
        assert len(errors) == registered and errors == sorted(errors, reverse=True)
        assert page.locator("#errors tbody tr").first.is_visible() and page.locator("#errors details").count() == 1
        assert "millimetres" in page.locator("#summary").inner_text()
        assert set(page.locator("#timings td:first-child").all_inner_texts()) >= {"ingest", "sfm", "texture"}
        shown = page.locator("#photos").bounding_box()    # the docs show the report down to the left-out photos
        page.screenshot(path=str(SCREENSHOT if RETAKE_SCREENSHOT else tmp_path / SCREENSHOT.name), full_page=True,
                        clip={"x": 0, "y": 0, "width": 1100, "height": shown["y"] + shown["height"] + 14})
        # a phone: nothing wider than the screen
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
    assert schemes <= {"file", "data"}


def test_many_left_out_photos_keep_the_page_small_and_names_are_text(tmp_path):
    """40 left-out photos of noise (the worst case for JPEG): thumbnails for the first
    THUMBS_MAX only, each at most 160 px; a file name full of markup stays text."""
    rng = np.random.default_rng(0)
    photos = []
    for k in range(40):
        name = f'<b onmouseover="x()">{k:02d}</b>.png'
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 255, (360, 480, 3), dtype=np.uint8))
        photos.append({"name": name, "status": "left out", "reason": "a <i>reason</i>", "observations": None,
                       "reprojection_error_px": None, "centre": None, "view": None, "rotor_deg": None,
                       "turntable_deg": None})
    page = report_html.render({"images_given": 40, "photos": photos}, images=tmp_path)
    assert page.count('src="data:image/jpeg;base64,') == report_html.THUMBS_MAX
    assert "<b onmouseover" not in page and "<i>reason" not in page
    # data-name and caption of each, alt of each thumbnail
    assert page.count("&lt;b onmouseover=&#34;x()&#34;&gt;") == 2 * 40 + report_html.THUMBS_MAX
    assert len(page) < 24 * 14_000 + 30_000
