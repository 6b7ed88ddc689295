"""The scan controller on the simulated rig (gpiozero mock pins, rendered camera): the state
machine a person drives from the page or the button: start, pause, resume, cancel, refusals
while busy, jog/home within limits, and one controller shared by the GPIO button and the page."""
import json
import time

import pytest

from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.config import load_profile
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.controller import Busy, ScanController
from openscan_plugin.trigger import trigger_from_profile
from openscan_plugin.web.scan_views import camera_view, rig_status


def wait_for(predicate, timeout=60, what=""):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
    return value


@pytest.fixture
def rig_profile():
    return load_profile("mini", config={"overrides": {"trigger": {"long_press_s": 0.3}}})


@pytest.fixture
def controller(tmp_path, rig_profile):
    settings = load_settings(str(tmp_path / "rig.json"), data_dir=tmp_path / "rig", scans_dir=tmp_path / "scans")
    service = CloudService(settings)          # no worker, no token: uploads are refused
    rig = build_simulated_rig(rig_profile, size=(160, 120))
    c = ScanController(rig, service)
    yield c
    c.close()
    rig.close()


def test_scan_runs_to_complete_with_progress(controller):
    seen = []
    job = controller.start({"preset": "quick", "points": 6, "upload": False, "name": "owl"})
    version = 0
    while job.running:
        version = controller.wait_change(version, 1.0)
        s = rig_status(controller)
        seen.append((s["state"], s["scan"]["done"], s["scan"]["eta_s"]))
    s = rig_status(controller)
    assert s["state"] == "idle" and s["scan"]["state"] == "complete"
    assert s["scan"]["done"] == s["scan"]["total"] == 6
    dones = [d for _, d, _ in seen]
    assert dones == sorted(dones) and len(set(dones)) >= 4     # i of N moved forward live
    assert any(state == "scanning" for state, _, _ in seen)
    manifest = json.loads((controller.scans_dir / "owl" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["photos"]) == 6
    assert controller.latest_photo().name == manifest["photos"][-1]["file"]


def test_pause_holds_then_resume_finishes(controller):
    job = controller.start({"preset": "custom", "points": 30, "upload": False})
    wait_for(lambda: job.done >= 2, what="two photos")
    controller.pause()
    wait_for(lambda: rig_status(controller)["state"] == "paused", what="paused")
    held = job.done
    time.sleep(0.6)
    assert job.done == held and job.running                 # nothing is taken while paused
    assert not controller.rig.light.is_lit                  # and the light is off
    controller.resume()
    with pytest.raises(Busy, match="not paused"):
        controller.resume()
    wait_for(lambda: not job.running, what="finished after resume")
    assert job.state == "complete" and job.done == 30


def test_cancel_keeps_photos_and_frees_the_rig(controller):
    job = controller.start({"preset": "custom", "points": 40, "upload": True})
    wait_for(lambda: job.done >= 1, what="a photo")
    controller.cancel()
    assert job.wait(30) and job.state == "cancelled" and job.done < 40
    manifest = json.loads((job.folder / "manifest.json").read_text())
    assert manifest["status"] == "cancelled"
    assert controller.service.queue.list() == []            # a cancelled scan is not sent
    controller.setup.jog("turntable", 5)                    # the rig is free again
    with pytest.raises(Busy, match="no scan is running"):
        controller.cancel()


def test_continue_a_cancelled_scan_takes_only_the_missing_photos(controller):
    job = controller.start({"preset": "custom", "points": 12, "upload": False, "name": "owl"})
    wait_for(lambda: job.done >= 3, what="three photos")
    controller.cancel()
    job.wait(30)
    kept = job.done
    assert job.state == "cancelled" and 3 <= kept < 12
    again = controller.continue_scan("owl", upload=False)
    assert again.done == kept and again.total == 12          # progress starts where it stopped
    again.wait(60)
    assert again.state == "complete" and again.done == 12
    manifest = json.loads((controller.scans_dir / "owl" / "manifest.json").read_text())
    files = [p["file"] for p in manifest["photos"]]
    assert manifest["status"] == "complete" and len(files) == len(set(files)) == 12
    with pytest.raises(Busy, match="complete already"):
        controller.continue_scan("owl")
    with pytest.raises(ValueError, match="nothing to resume"):
        controller.continue_scan("nope")


def test_a_scan_cut_by_a_crash_is_offered_after_restart(controller):
    job = controller.start({"preset": "custom", "points": 8, "upload": False, "name": "owl"})
    wait_for(lambda: job.done >= 2, what="two photos")
    controller.cancel()
    job.wait(30)
    path = controller.scans_dir / "owl" / "manifest.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "status": "scanning"}))   # what a power cut leaves
    restarted = ScanController(controller.rig, controller.service)       # the daemon starts again
    scan = rig_status(restarted)["scan"]
    assert (scan["name"], scan["state"], scan["done"], scan["total"]) == ("owl", "interrupted", job.done, 8)
    assert rig_status(restarted)["state"] == "idle"
    again = restarted.continue_scan("owl", upload=False)
    assert again.wait(60) and again.state == "complete" and again.done == 8


def test_busy_refusals_during_a_scan(controller):
    job = controller.start({"preset": "custom", "points": 20, "upload": False, "name": "a"})
    with pytest.raises(Busy, match="scan a is running"):
        controller.start({"points": 4})
    with pytest.raises(Busy):
        controller.setup.jog("rotor", 5)
    with pytest.raises(Busy):
        controller.setup.set_light(True)
    with pytest.raises(Busy):
        controller.setup.test_photo()
    assert controller.setup.preview_frame() is None         # the camera belongs to the scan
    controller.cancel()
    job.wait(30)
    with pytest.raises(Busy, match="already exists"):
        controller.start({"points": 4, "name": "a"})


def test_upload_when_finished_reports_why_not(controller):
    job = controller.start({"preset": "custom", "points": 2})   # upload: on by default
    job.wait(60)
    assert job.state == "complete"
    assert "no server/token" in rig_status(controller)["scan"]["upload_error"]


@pytest.mark.parametrize("data, message", [
    ({"points": 0}, "points must be between 1 and 2000"),
    ({"points": "24"}, "points must be a number"),
    ({"points": 2.5}, "whole number"),
    ({"preset": "ultra"}, "unknown preset"),
    ({"mode": "spiral"}, "mode must be sphere or turntable"),
    ({"rotor_range": [50, 10]}, "must be below max"),
    ({"rotor_range": [80, 90]}, "outside the rotor"),
    ({"mode": "turntable", "rings": [85]}, "outside the rotor range"),
    ({"focus_stack": 50}, "focus_stack must be between 1 and 20"),
    ({"upload": "yes"}, "upload must be true or false"),
    ({"name": "../etc"}, "name:"),
    ({"colour": "red"}, "unknown setting(s) colour"),
])
def test_bad_settings_are_refused_with_a_reason(controller, data, message):
    with pytest.raises(ValueError) as exc:
        controller.start(data)
    assert message in str(exc.value)
    assert controller.job is None


def test_a_preset_is_a_preset_and_the_old_key_still_names_one(controller):
    req, plan = controller.plan({"preset": "quick"})
    assert req.preset == "quick" and len(plan.points) == 24
    old, _ = controller.plan({"profile": "detailed"})   # dashboards written before the rename
    assert old.preset == "detailed" and old.points == 120


def test_plan_follows_the_settings(controller):
    _, plan = controller.plan({"preset": "custom", "points": 24, "rotor_range": [0, 40], "focus_stack": 2})
    assert len(plan.points) == 24 and plan.photos_per_point == 2
    assert all(0 <= r <= 40 for r, _ in plan.points)
    _, rings = controller.plan({"preset": "turntable", "points": 12, "rings": [0, 20, 40]})
    assert [r for r, _ in rings.points] == [0] * 12 + [20] * 12 + [40] * 12
    assert rings.estimated_duration_s > plan.estimated_duration_s / 2 * 1.2


def test_jog_home_and_light(controller):
    rig = controller.rig
    controller.setup.jog("turntable", 90)
    assert rig.sim["turntable"].angle == pytest.approx(90, abs=0.2)     # the mechanism turned
    r0 = rig.rotor.angle
    controller.setup.jog("rotor", 10)
    assert rig.rotor.angle == pytest.approx(r0 + 10, abs=0.01)
    with pytest.raises(ValueError, match="above the soft limit"):
        controller.setup.jog("rotor", 200)
    assert rig.rotor.angle == pytest.approx(r0 + 10, abs=0.01)          # refused, not half done
    with pytest.raises(ValueError, match="motor must be"):
        controller.setup.jog("lift", 1)
    controller.setup.home()
    status = rig_status(controller)
    assert status["angles"]["rotor"] == -20 and rig.sim["rotor"].angle == pytest.approx(-20, abs=0.5)
    controller.setup.set_light(True)
    light = rig.sim["factory"].pin(rig.profile["pins"]["lights"][0])
    assert light.state and rig_status(controller)["light"]
    controller.setup.set_light(False)
    assert not light.state


def test_camera_settings_change_the_picture(controller):
    dark = controller.setup.preview_frame().mean()
    controller.setup.set_camera({"exposure_us": 150000})
    assert controller.setup.preview_frame().mean() > dark * 1.5
    with pytest.raises(ValueError, match="exposure_us must be a number from 100"):
        controller.setup.set_camera({"exposure_us": -1})
    controller.setup.set_camera({"lens_position": 4.0})
    view = camera_view(controller)
    assert view["lens_position"] == 4.0 and view["autofocus"] is False
    path = controller.setup.test_photo()
    assert path.read_bytes()[:2] == b"\xff\xd8"


def test_button_and_page_share_one_controller(controller, rig_profile):
    prof = {**rig_profile, "trigger": {**rig_profile["trigger"], "points": 3}}
    trigger = trigger_from_profile(prof, controller.service, controller)
    button = controller.rig.sim["factory"].pin(prof["pins"]["button"])
    try:
        job = controller.start({"preset": "custom", "points": 300, "upload": False})  # from the page
        wait_for(lambda: job.done >= 1, what="started")
        button.drive_low(); time.sleep(0.1); button.drive_high()   # short press: ignored, busy
        time.sleep(0.3)
        assert controller.job is job
        button.drive_low(); time.sleep(1.0); button.drive_high()   # long press: cancels the page's scan
        assert job.wait(30) and job.state == "cancelled"
        button.drive_low(); time.sleep(0.1); button.drive_high()   # now the button starts one
        wait_for(lambda: controller.job is not job, what="button scan")
        assert rig_status(controller)["scan"]["source"] == "button"
        wait_for(lambda: not controller.job.running, what="button scan done")
        assert controller.job.state == "complete" and controller.job.done == 3
        assert "no server/token" in controller.job.upload_error       # the button's scan is queued
        wait_for(lambda: trigger.pattern == "failed", timeout=5)      # by the controller; refused: flicker
    finally:
        trigger.stop()
    assert not controller.rig.rotor.closed              # the daemon's rig stays open
