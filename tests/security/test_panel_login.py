"""Issue 13 #10: the panel was open to everyone on the LAN. `openscan panel-password` sets a
password (off by default: the one-click flow stays one click); then every route wants it as
HTTP Basic auth (browsers ask once, Node-RED's http request node and `openscan rig` send it),
it applies to the running daemon at once, and neither the token nor the hash is ever shown."""
import json
import os
import stat

from click.testing import CliRunner

from openscan_plugin.cli import main

PASSWORD = "correct horse battery"


def set_password(config, password=None):
    args = ["panel-password", "--config", str(config)] + ([] if password else ["--off"])
    result = CliRunner().invoke(main, args, input=f"{password}\n{password}\n" if password else None)
    assert result.exit_code == 0, result.output
    return result.output


def test_off_by_default_then_required_everywhere(panel):
    p = panel({"cloud": {"part_size": 100_000, "server": "http://127.0.0.1:9", "token": "T" * 32}})
    assert p.request("GET", "/scan/api/status").status_code == 200
    assert "panel password set" in set_password(p.config, PASSWORD)
    assert stat.S_IMODE(os.stat(p.config).st_mode) == 0o600
    for method, path in (("GET", "/scan/"), ("GET", "/cloud/"), ("GET", "/scan/api/status"),
                         ("GET", "/cloud/static/cloud.js"), ("GET", "/scan/api/preview.mjpg?frames=1"),
                         ("POST", "/scan/api/jog")):
        r = p.request(method, path, json={"motor": "turntable", "degrees": 10})
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith("Basic ") and "password" in r.json()["error"]
        r = p.request(method, path, auth=("openscan", "wrong"), json={"motor": "turntable", "degrees": 10})
        assert r.status_code == 401, path
    assert p.angles()["turntable"] == 0
    good = ("openscan", PASSWORD)
    assert p.request("GET", "/scan/", auth=good).status_code == 200
    r = p.request("POST", "/scan/api/jog", auth=good, json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 200 and round(p.angles()["turntable"]) == 10
    # a cross-site form cannot ride on the browser's remembered password
    r = p.request("POST", "/scan/api/jog", auth=good, headers={"Origin": "http://evil.example"},
                  json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 403 and round(p.angles()["turntable"]) == 10
    # write-only: the token stays masked, the hash never leaves the rig
    settings = p.request("GET", "/cloud/api/settings", auth=good).text
    hash_ = json.loads(p.config.read_text())["panel"]["password_hash"]
    assert "T" * 32 not in settings and hash_ not in settings and PASSWORD not in hash_
    assert "panel password removed" in set_password(p.config)
    assert p.request("GET", "/scan/api/status").status_code == 200


def test_openscan_rig_sends_the_password(panel):
    p = panel()
    set_password(p.config, PASSWORD)
    runner = CliRunner()
    result = runner.invoke(main, ["rig", "--url", p.url, "status"])
    assert result.exit_code == 1 and "the panel has a password: give --password" in result.output
    result = runner.invoke(main, ["rig", "--url", p.url, "status"], env={"OPENSCAN_PANEL_PASSWORD": PASSWORD})
    assert result.exit_code == 0 and result.output.startswith("rig idle"), result.output


def test_the_pages_work_behind_the_password_in_a_browser(tmp_path):
    """`openscan daemon --simulate` in Chromium: without the password the page is refused;
    with it, the live status (event stream) and a jog work as before."""
    import pytest
    from playwright.sync_api import expect, sync_playwright

    from tests.web.test_browser import ARGS, CHROMIUM
    from tests.web.test_scan_browser import start_daemon
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    daemon = start_daemon(tmp_path, {})
    url, _ = next(daemon)
    try:
        set_password(tmp_path / "rig.json", PASSWORD)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            assert browser.new_context().request.get(url).status == 401
            page = browser.new_context(http_credentials={"username": "openscan", "password": PASSWORD}).new_page()
            page.goto(url)
            expect(page.locator("#connection")).to_have_text("live", timeout=30_000)
            page.click('.jog[data-motor="turntable"] button[data-deg="45"]')
            expect(page.locator("#turntable-angle")).to_have_text("45.0")
            browser.close()
    finally:
        next(daemon, None)
