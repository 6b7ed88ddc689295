import sys

import pytest
from PIL import Image

from openscan_plugin.hardware.camera import CameraSettings

from . import fake_picamera2


@pytest.fixture
def picam(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2)
    fake_picamera2.Picamera2.instances.clear()
    from openscan_plugin.hardware.picamera2_camera import Picamera2Camera
    cam = Picamera2Camera()
    yield cam, fake_picamera2.Picamera2.instances[-1]
    cam.close()


def test_configures_full_sensor_still_then_starts(picam):
    cam, fake = picam
    assert fake.calls[:2] == ["configure", "start"]
    assert fake.camera_config["use_case"] == "still"
    assert cam.resolution == fake_picamera2.SENSOR and cam.model == "imx519"


def test_manual_exposure_gain_white_balance_and_quality(picam):
    cam, fake = picam
    cam.apply(CameraSettings(exposure_us=50000, analogue_gain=1.0, colour_gains=(2.1, 1.6), jpeg_quality=95,
                             lens_position=4.0))
    c = fake.controls
    assert c["AeEnable"] is False and c["ExposureTime"] == 50000 and c["AnalogueGain"] == 1.0
    assert c["AwbEnable"] is False and c["ColourGains"] == (2.1, 1.6)
    assert c["NoiseReductionMode"] == 0 and c["Sharpness"] == 0.0
    assert c["AfMode"] == 0 and c["LensPosition"] == 4.0
    assert fake.options["quality"] == 95


def test_autofocus_locks_the_found_lens_position(picam):
    cam, fake = picam
    assert cam.has_autofocus
    assert cam.autofocus() == pytest.approx(7.25)
    assert fake.controls["AfMode"] == 0 and fake.controls["LensPosition"] == pytest.approx(7.25)


def test_capture_writes_jpeg_atomically_and_releases_request(picam, tmp_path):
    cam, fake = picam
    cam.apply(CameraSettings(jpeg_quality=93))
    cam.set_lens_position(3.5)
    out = tmp_path / "scan_0001.jpg"
    cap = cam.capture(str(out))
    assert out.exists() and Image.open(out).format == "JPEG"
    assert not list(tmp_path.glob("*.part*"))
    assert fake.open_requests == 0 and fake.saved[-1][1] == 93
    assert cap.metadata["LensPosition"] == 3.5 and cap.metadata["ExposureTime"] == fake.controls.get("ExposureTime", 20000)


def test_lens_position_is_clamped_to_the_modules_range(picam):
    cam, fake = picam
    cam.set_lens_position(99)
    assert fake.controls["LensPosition"] == 32.0


def test_close_stops_then_closes(picam):
    cam, fake = picam
    cam.close()
    assert fake.calls[-1] == "stop" and fake.closed
    fake.closed = False  # let the fixture's close run again harmlessly
    fake.started = False


def test_stand_in_rejects_wrong_order_and_unknown_controls(monkeypatch):
    cam = fake_picamera2.Picamera2()
    with pytest.raises(RuntimeError):
        cam.start()                      # not configured
    cam.configure(cam.create_still_configuration())
    cam.start()
    with pytest.raises(RuntimeError):
        cam.configure(cam.create_still_configuration())  # while running
    with pytest.raises(RuntimeError):
        cam.set_controls({"Exposure": 1000})             # misspelt control
    with pytest.raises(RuntimeError):
        cam.autofocus_cycle()                           # AfMode still manual
