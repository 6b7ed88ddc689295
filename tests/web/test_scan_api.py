"""The scan page's JSON endpoints, live preview and event stream on the simulated rig: bad input
gets a 4xx JSON message, the MJPEG stream carries real JPEG frames of the camera, and the event
stream follows a scan started over the API to the end (a second stream joining mid-scan starts
from the live state, as a reloaded page does)."""
import json
import re

import cv2
import numpy as np
import pytest
import requests

from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.config import load_profile
from openscan_plugin.daemon import WebServer
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.controller import ScanController
from openscan_plugin.web import create_app
from tests.web.test_scan_controller import wait_for


@pytest.fixture
def app_parts(tmp_path):
    settings = load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path / "rig", scans_dir=tmp_path / "scans")
    service = CloudService(settings)
    rig = build_simulated_rig(load_profile("mini"), size=(320, 240))
    controller = ScanController(rig, service)
    app = create_app(service, controller=controller)
    yield app, controller
    controller.close()
    rig.close()


@pytest.fixture
def client(app_parts):
    return app_parts[0].test_client()


@pytest.fixture
def server(app_parts):
    web = WebServer(app_parts[0], "127.0.0.1", 0)
    web.start()
    yield f"http://127.0.0.1:{web.port}/scan/", app_parts[1]
    app_parts[1].close()            # ends open streams
    web.stop()


@pytest.mark.parametrize("method, path, body, status, message", [
    ("post", "api/plan", {"points": 0}, 400, "points must be between 1 and 2000"),
    ("post", "api/plan", {"mode": "turntable", "rings": [100]}, 400, "outside the rotor range"),
    ("post", "api/scan/start", None, 400, "send a JSON object"),
    ("post", "api/scan/start", {"preset": "huge"}, 400, "unknown preset 'huge'"),
    ("post", "api/scan/pause", {}, 409, "no scan is running to pause"),
    ("post", "api/scan/jump", {}, 404, "unknown action 'jump'"),
    ("post", "api/scan/continue", {"name": "../x"}, 400, '{"name": "<scan folder>"}'),
    ("post", "api/scan/continue", {"name": "nope"}, 400, "cannot continue nope"),
    ("post", "api/jog", {"motor": "rotor", "degrees": 500}, 400, "degrees must be a number"),
    ("post", "api/jog", {"motor": "rotor", "degrees": 100}, 400, "above the soft limit 70"),
    ("post", "api/jog", {"motor": "x", "degrees": 1}, 400, "motor must be rotor or turntable"),
    ("post", "api/light", {"on": "yes"}, 400, '"on": true'),
    ("post", "api/camera", {"exposure_us": 0}, 400, "exposure_us must be a number from 100"),
    ("post", "api/camera", {"iso": 100}, 400, "unknown camera setting 'iso'"),
    ("get", "api/photo/latest.jpg", None, 404, "no photo taken yet"),
    ("get", "api/test-photo.jpg", None, 404, "no test photo yet"),
    ("get", "api/preview.mjpg?frames=0", None, 400, "frames must be 1 or more"),
    ("get", "api/scan/start", None, 405, "GET is not allowed"),
])
def test_bad_requests_get_a_json_reason(client, method, path, body, status, message):
    r = getattr(client, method)("/scan/" + path, json=body) if body is not None else getattr(client, method)("/scan/" + path)
    assert r.status_code == status, r.data
    assert message in r.get_json()["error"]


def test_a_fault_inside_the_rig_is_no_bad_request(client, app_parts, monkeypatch):
    """Only the request's own checks answer 400; a ValueError from deeper down (numpy, the
    camera) is the rig's fault: 500, its text kept for the log, not shown as the user's mistake."""
    controller = app_parts[1]

    def broken_planner(data):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")
    monkeypatch.setattr(controller, "plan", broken_planner)
    r = client.post("/scan/api/plan", json={"points": 10})
    assert r.status_code == 500
    assert "broadcast" not in r.get_json()["error"]
    monkeypatch.undo()
    r = client.post("/scan/api/plan", json={"points": 0})
    assert r.status_code == 400 and "points must be between" in r.get_json()["error"]


def test_plan_then_scan_then_busy(client, app_parts):
    plan = client.post("/scan/api/plan", json={"preset": "quick"}).get_json()
    assert len(plan["points"]) == 24 and plan["photos"] == 24 and plan["estimated_duration_s"] > 24
    r = client.post("/scan/api/scan/start", json={"preset": "custom", "points": 12, "upload": False, "name": "owl"})
    assert r.status_code == 202 and r.get_json()["scan"]["name"] == "owl"
    r = client.post("/scan/api/scan/start", json={"points": 4})
    assert r.status_code == 409 and "scan owl is running" in r.get_json()["error"]
    r = client.post("/scan/api/jog", json={"motor": "turntable", "degrees": 10})
    assert r.status_code == 409
    wait_for(lambda: client.get("/scan/api/status").get_json()["scan"]["done"] >= 1, what="a photo")
    thumb = client.get("/scan/api/photo/latest.jpg?w=64")
    img = cv2.imdecode(np.frombuffer(thumb.data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (48, 64, 3)                         # the latest photo, scaled down
    assert client.post("/scan/api/scan/cancel").get_json()["scan"]["state"] == "cancelling"
    app_parts[1].job.wait(30)
    assert client.get("/scan/api/status").get_json()["scan"]["state"] == "cancelled"


def test_test_photo_and_jog(client, app_parts):
    r = client.post("/scan/api/test-photo", json={})
    assert r.status_code == 200
    photo = client.get("/scan/" + r.get_json()["photo"])
    assert photo.mimetype == "image/jpeg" and photo.data[:2] == b"\xff\xd8"
    s = client.post("/scan/api/jog", json={"motor": "turntable", "degrees": 45}).get_json()
    assert s["angles"]["turntable"] == pytest.approx(45, abs=0.2)
    assert client.post("/scan/api/home").get_json()["angles"]["rotor"] == -20


def read_frames(url, n):
    """n JPEG frames out of a multipart/x-mixed-replace stream, as a browser's <img> reads them."""
    with requests.get(url, stream=True, timeout=60) as r:
        assert r.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=frame"
        buf, frames = b"", []
        for chunk in r.iter_content(4096):
            buf += chunk
            while b"\r\n\r\n" in buf and buf.startswith(b"--frame"):
                head, rest = buf.split(b"\r\n\r\n", 1)
                size = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                if len(rest) < size + 2:
                    break
                frames.append(rest[:size])
                buf = rest[size + 2:]
            if len(frames) >= n:
                return frames
    return frames


def test_mjpeg_stream_yields_camera_frames(server):
    url, controller = server
    frames = read_frames(url + "api/preview.mjpg", 3)
    images = [cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR) for f in frames]
    assert len(images) == 3 and all(i is not None and i.shape == (60, 80, 3) for i in images)
    controller.setup.set_light(True)                        # the preview shows the light go on
    lit = cv2.imdecode(np.frombuffer(read_frames(url + "api/preview.mjpg", 2)[-1], np.uint8), cv2.IMREAD_COLOR)
    assert lit.mean() > images[0].mean() * 1.5


def sse(url):
    """Parsed `status` events of a server-sent event stream."""
    r = requests.get(url, stream=True, timeout=60)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    event = None
    for line in r.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "status":
            yield json.loads(line[6:])


def test_events_follow_a_scan_and_a_late_joiner_sees_it(server):
    url, controller = server
    events = sse(url + "api/events")
    assert next(events)["state"] == "idle"
    requests.post(url + "api/scan/start", json={"preset": "custom", "points": 8, "upload": False}).raise_for_status()
    dones, late = [], None
    for s in events:
        if s["scan"]:
            dones.append(s["scan"]["done"])
            # the stream may skip a count (2 -> 4), so join at the first event past 3, not at == 3
            if late is None and 3 <= dones[-1] < s["scan"]["total"] and s["scan"]["state"] == "scanning":
                late = next(sse(url + "api/events"))         # a page loaded mid-scan
                assert late["scan"]["state"] == "scanning" and late["scan"]["done"] >= 3
                assert late["scan"]["total"] == 8 and late["scan"]["eta_s"] > 0
            if s["scan"]["state"] == "complete":
                break
    assert late is not None, f"no mid-scan event to join at: {dones}"
    assert dones[-1] == 8 and dones == sorted(dones) and len(set(dones)) >= 6
    assert s["state"] == "idle" and s["model"] == {"preview": None, "glb": None, "obj": None, "stl": None, "report": None}


def test_cli_sees_and_drives_the_same_scan(server):
    """`openscan rig` against the running web server: the scan it starts is the page's scan."""
    from click.testing import CliRunner

    from openscan_plugin.cli import main
    url, controller = server
    root = url.rsplit("/scan/", 1)[0]
    run = lambda *args: CliRunner().invoke(main, ["rig", "--url", root, *args])   # noqa: E731
    out = run("start", "--points", "30", "--no-upload", "--name", "from-cli")
    assert out.exit_code == 0, out.output
    assert "scan from-cli (cli)" in out.output
    assert controller.job.name == "from-cli" and controller.job.source == "cli"
    wait_for(lambda: controller.job.done >= 1, what="a photo")
    assert re.search(r"from-cli \(cli\): scanning, \d+ of 30", run("status").output)
    again = run("start", "--points", "4")
    assert again.exit_code != 0 and "scan from-cli is running" in again.output
    assert "cancelling" in run("cancel").output
    controller.job.wait(30)
    assert "cancelled" in run("status").output
    gone = CliRunner().invoke(main, ["rig", "--url", "http://127.0.0.1:9", "status"])
    assert gone.exit_code != 0 and "no openscan daemon at" in gone.output
