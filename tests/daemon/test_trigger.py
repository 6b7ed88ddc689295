"""The GPIO button on gpiozero's mock pins, wired to the simulated rig and a real backend:
short press -> a scan -> an upload that reaches done; bounce is one press; a long press cancels
the scan (nothing is sent) or the upload; the ring light blinks while the queue works."""
from dataclasses import replace
import json
import time

import pytest

from openscan_plugin.cloud.service import CloudService
from openscan_plugin.cloud.settings import load_settings
from openscan_plugin.config import load_profile
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.controller import ScanController
from openscan_plugin.trigger import trigger_from_profile
from tests.rig_upload.conftest import make_photos


@pytest.fixture
def rig_setup(tmp_path, backend):
    server = backend(env={"FAKE_STAGE_SECONDS": "1"})   # ~4 s of processing to watch
    profile = load_profile("mini", config={"overrides": {"trigger": {"long_press_s": 0.5, "points": 4}}})
    config = tmp_path / "rig.json"
    config.write_text(json.dumps({"cloud": {"server": server.url, "token": server.token(),
                                            "part_size": 100_000}}))
    settings = load_settings(str(config), data_dir=tmp_path / "rig", scans_dir=tmp_path / "scans")
    settings.retry = replace(settings.retry, entry_pause=0.5)   # resume soon after trouble
    service = CloudService(settings)
    service.start_worker()
    rig = build_simulated_rig(profile, size=(320, 240))
    made = []

    def make(**cfg):
        prof = {**profile, "trigger": {**profile["trigger"], **cfg}}
        controller = ScanController(rig, service)
        trigger = trigger_from_profile(prof, service, controller)
        made.append(trigger)
        button = rig.sim["factory"].pin(profile["pins"]["button"])
        return trigger, button
    yield make, service, rig, tmp_path / "scans"
    for t in made:
        t.stop()
        t.controller.close()
    rig.close()
    service.stop()


def press(pin, seconds=0.1):
    pin.drive_low()            # the button pulls the pin to ground
    time.sleep(seconds)
    pin.drive_high()


def running_routine(trigger):
    """The scan's routine while one runs (whoever started it), else None."""
    c = trigger.controller
    return c.job.routine if c.scanning else None


def wait_for(predicate, timeout=90, what=""):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.1)
    return value


def test_short_press_scans_and_uploads(rig_setup):
    make, service, rig, scans = rig_setup
    trigger, button = make()
    assert trigger.button.pin.number == 21      # from the profile's pins.button
    press(button)
    entry = wait_for(lambda: service.queue.next_active() or (service.queue.list() or [None])[-1],
                     what="the scan was queued")
    folder = scans / entry.label
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["photos"]) == 4
    light_pin = rig.sim["factory"].pin(rig.profile["pins"]["lights"][0])
    toggles = 0
    last = light_pin.state
    while (e := service.queue.get(entry.id)).state not in ("done", "failed"):
        toggles += light_pin.state != last        # the ring light blinks while the queue works
        last = light_pin.state
        time.sleep(0.02)
    assert e.state == "done", e.error
    assert (folder / "model" / "model.obj").is_file()
    assert toggles >= 2                          # blinking, not steady


def test_bouncing_contact_is_one_press(rig_setup):
    make, service, rig, scans = rig_setup
    trigger, button = make(action="upload_last")
    make_photos(scans / "old", count=2, size=1000)
    def chatter():                               # a worn contact: 5 closings within ~20 ms
        for _ in range(5):
            button.drive_low()
            time.sleep(0.002)
            button.drive_high()
            time.sleep(0.002)
    chatter()
    time.sleep(0.3)
    assert trigger.presses == 0                  # chatter alone is no press
    chatter()
    button.drive_low()                           # then really held for 150 ms
    time.sleep(0.15)
    chatter()
    wait_for(lambda: service.queue.list(), what="queued")
    time.sleep(1.0)
    assert trigger.presses == 1 and len(service.queue.list()) == 1
    assert service.queue.list()[0].label == "old"  # upload_last: no new scan, the newest is sent


def test_long_press_cancels_the_scan(rig_setup):
    make, service, rig, scans = rig_setup
    trigger, button = make(points=40)
    press(button)
    wait_for(lambda: (r := running_routine(trigger)) is not None and r.manifest is not None
             and len(r.manifest.photos) >= 1, what="the scan started")
    press(button, 0.8)                           # held past long_press_s
    wait_for(lambda: running_routine(trigger) is None, what="the scan stopped")
    folder = next(scans.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "cancelled" and len(manifest["photos"]) < 40
    time.sleep(0.5)
    assert service.queue.list() == []            # a cancelled scan is not sent


def test_long_press_cancels_the_upload(rig_setup):
    make, service, rig, scans = rig_setup
    trigger, button = make(action="upload_last")
    make_photos(scans / "owl", count=2, size=1000)
    service.uploader.stop.set()                    # hold the worker: the entry waits in the queue
    service._thread.join()
    press(button)
    entry = wait_for(lambda: service.queue.next_active(), what="queued")
    press(button, 0.8)
    assert wait_for(lambda: service.queue.get(entry.id).state == "cancelled", timeout=5)
    assert trigger.presses == 1                  # the long press did not also start something


def test_press_with_nothing_to_send_flickers(rig_setup):
    make, service, rig, scans = rig_setup
    trigger, button = make(action="upload_last")          # no scans yet
    press(button)
    light = rig.sim["factory"].pin(rig.profile["pins"]["lights"][0])
    wait_for(lambda: trigger.pattern == "failed", timeout=5, what="failure shown")
    toggles, last, t0 = 0, light.state, time.monotonic()
    while time.monotonic() - t0 < 1.0:
        toggles += light.state != last
        last = light.state
        time.sleep(0.01)
    assert toggles >= 6                                    # fast flicker (0.1 s on/off)
    assert service.queue.list() == []
