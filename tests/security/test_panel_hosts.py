"""Issue 13 #9, DNS rebinding: a page on evil.example whose name then resolves to the rig is
same-origin with it, so the origin check cannot tell; only the Host header can. A request
with `Host: evil.example` was served, JSON jog included. Now the panel answers only to the
names the rig is reachable as: addresses, localhost, its host name and `<hostname>.local`,
and the names in `panel.allowed_hosts` of the rig config (read again when the file changes)."""
import json
import socket

import pytest

from tests.security.conftest import EVIL


def test_a_rebound_name_gets_nothing(panel):
    p = panel()
    port = p.web.port
    rebound = {"Host": f"evil.example:{port}", "Origin": f"{EVIL}:{port}"}   # same-origin for the browser
    r = p.request("POST", "/scan/api/jog", headers=rebound, json={"motor": "rotor", "degrees": 30})
    assert r.status_code == 403 and "does not answer to the host name 'evil.example'" in r.json()["error"]
    assert p.angles()["rotor"] == 0
    config = p.config.read_bytes()
    for path, body in (("/cloud/api/scan-options", {"webhook": "https://evil.example/collect"}),
                       ("/cloud/api/uploads/1/rerun", {"options": {"quality": "high"}})):
        r = p.request("POST", path, headers=rebound, json=body)
        assert r.status_code == 403 and "does not answer to the host name" in r.json()["error"], path
    assert p.config.read_bytes() == config   # the rig-wide options (webhook included) unchanged
    for path in ("/scan/api/status", "/cloud/api/settings", "/cloud/api/scans", "/cloud/api/scan-options",
                 "/scan/", "/"):
        r = p.request("GET", path, headers={"Host": "evil.example"})
        assert r.status_code == 403 and r.json()["error"], path
        assert "owl" not in r.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "192.168.1.23", "LOCALHOST.",
                                  socket.gethostname(), socket.gethostname() + ".local"])
def test_the_rigs_own_names_are_served(panel, host):
    p = panel()
    r = p.request("GET", "/scan/api/status", headers={"Host": f"{host}:{p.web.port}"})
    assert r.status_code == 200 and "angles" in r.json()


@pytest.mark.parametrize("host", ["", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io"])
def test_other_names_are_refused(panel, host):
    p = panel()
    r = p.request("GET", "/scan/api/status", headers={"Host": host})
    assert r.status_code == 403


def test_configured_names_apply_without_a_restart(panel):
    p = panel()
    headers = {"Host": "scanner.home.arpa"}
    assert p.request("GET", "/scan/api/status", headers=headers).status_code == 403
    config = json.loads(p.config.read_text())
    config["panel"] = {"allowed_hosts": ["Scanner.home.arpa"]}
    p.config.write_text(json.dumps(config))
    assert p.request("GET", "/scan/api/status", headers=headers).status_code == 200
    assert p.request("GET", "/scan/api/status", headers={"Host": "evil.example"}).status_code == 403
