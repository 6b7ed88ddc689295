"""Issue 13 #8: a page on another site must not drive the rig through the owner's browser. A
form post or fetch from `http://evil.example` changed the cloud server and token in rig.json,
queued an upload, jogged and homed the motors, took photos and reset uploads. Now every
state-changing route, whichever blueprint, answers 403 to another origin, while the panel's
own pages (same origin) and scripts without an Origin header (Node-RED, curl) still work."""
import re

import pytest

from openscan_plugin.web.scan_views import rig_status

from tests.security.conftest import EVIL

CHANGES = {"POST", "PUT", "PATCH", "DELETE"}


ACTIONS = ("cancel", "retry", "reset", "rerun", "pause", "resume")


def state_changing_urls(app):
    """Every rule of the app that takes a state-changing method, with its arguments filled in
    (each action for `<action>`)."""
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<name>", "owl", re.sub(r"<int:[^>]+>", "1", rule.rule))
        for method in sorted(rule.methods & CHANGES):
            for action in ACTIONS if "<action>" in path else ("",):
                yield method, path.replace("<action>", action)


def test_every_state_changing_route_refuses_another_origin(panel):
    p = panel()
    routes = list(state_changing_urls(p.app))
    assert ("POST", "/cloud/api/settings") in routes and ("POST", "/scan/api/jog") in routes
    assert len(routes) >= 20, routes                 # both blueprints, all actions
    before = p.config.read_bytes(), p.angles()
    for method, path in routes:
        r = p.request(method, path, headers={"Origin": EVIL}, data={"motor": "turntable", "degrees": "30"})
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert "another web site" in r.json()["error"]
    assert (p.config.read_bytes(), p.angles()) == before
    assert p.service.queue.list() == [] and p.controller.job is None


def test_the_reported_attacks_change_nothing(panel):
    p = panel()
    config = p.config.read_bytes()
    cross_site = {"Origin": EVIL, "Referer": EVIL + "/cats.html"}
    # the hidden form that pointed the rig at the attacker's server
    r = p.request("POST", "/cloud/api/settings", headers=cross_site,
                  data={"server": EVIL, "token": "A" * 32})
    assert r.status_code == 403 and p.config.read_bytes() == config
    assert p.request("POST", "/cloud/api/scans/owl/upload", headers=cross_site).status_code == 403
    assert p.service.queue.list() == []
    angles = p.angles()
    for path, body in (("/scan/api/jog", {"motor": "rotor", "degrees": 20}), ("/scan/api/home", {}),
                       ("/scan/api/stop", {}), ("/scan/api/light", {"on": True}),
                       ("/scan/api/scan/start", {"points": 3})):
        assert p.request("POST", path, headers=cross_site, json=body).status_code == 403, path
    assert p.angles() == angles and p.controller.job is None and not rig_status(p.controller)["light"]
    assert p.request("POST", "/scan/api/test-photo", headers=cross_site).status_code == 403
    assert not (p.controller.work_dir / "test-photo.jpg").exists()


@pytest.mark.parametrize("headers", [
    {"Referer": EVIL + "/page.html"},                       # a browser that sends no Origin
    {"Origin": "null"},                                     # a sandboxed iframe or file:// page
    {"Origin": "http://127.0.0.1:1880"},                    # same machine, another port: another site
    {"Origin": "not a url:99999"},
])
def test_other_senders_are_refused_too(panel, headers):
    p = panel()
    r = p.request("POST", "/scan/api/jog", headers=headers, json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 403 and p.angles()["turntable"] == 0


def test_own_pages_and_scripts_still_work(panel):
    p = panel()
    own = {"Origin": p.url, "Referer": p.url + "/scan/"}
    r = p.request("POST", "/scan/api/jog", headers=own, json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 200 and round(r.json()["angles"]["turntable"]) == 10
    # Node-RED's http request node, curl, requests: no Origin, no Referer
    r = p.request("POST", "/scan/api/jog", json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 200 and round(r.json()["angles"]["turntable"]) == 20
    assert p.request("POST", "/cloud/api/scans/owl/upload").status_code == 400    # no token yet: its own reason
    assert p.request("GET", "/scan/api/status", headers={"Origin": EVIL}).status_code == 200  # reading is not changing
