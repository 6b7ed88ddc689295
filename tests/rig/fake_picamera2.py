"""A stand-in `picamera2` module that enforces the real library's call order and names.

Modelled on picamera2's Picamera2 API: create_still_configuration() builds a config,
configure() must come before start() and not while running, captures need a started
camera, set_controls() accepts only controls the camera advertises (camera_controls,
with their (min, max, default) ranges), a CompletedRequest must be released exactly
once and cannot be used afterwards.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

SENSOR = (4656, 3496)  # imx519


class CompletedRequest:
    def __init__(self, cam):
        self._cam, self._released = cam, False
        self._metadata = cam._frame_metadata()

    def _check(self):
        if self._released:
            raise RuntimeError("CompletedRequest used after release()")

    def save(self, name, file_output, format=None, exif_data=None):
        self._check()
        if name not in self._cam.camera_config:
            raise KeyError(name)
        fmt = format or str(file_output).rsplit(".", 1)[-1]
        if fmt.lower() not in ("jpg", "jpeg", "png", "bmp", "gif"):
            raise ValueError(f"cannot save format {fmt!r}")
        w, h = self._cam.camera_config[name]["size"]
        img = Image.fromarray(np.full((h // 16, w // 16, 3), 128, np.uint8))
        img.save(file_output, format="JPEG" if fmt.lower() in ("jpg", "jpeg") else fmt.upper(),
                 quality=self._cam.options["quality"])
        self._cam.saved.append((str(file_output), self._cam.options["quality"]))

    def get_metadata(self):
        self._check()
        return dict(self._metadata)

    def release(self):
        if self._released:
            raise RuntimeError("CompletedRequest released twice")
        self._released = True
        self._cam.open_requests -= 1


class Picamera2:
    instances = []

    def __init__(self, camera_num=0, tuning=None):
        self.camera_properties = {"Model": "imx519", "PixelArraySize": SENSOR, "UnitCellSize": (1220, 1220)}
        self.sensor_resolution = SENSOR
        self.camera_controls = {
            "AeEnable": (False, True, True), "ExposureTime": (1, 66666666, 20000),
            "AnalogueGain": (1.0, 16.0, 1.0), "AwbEnable": (False, True, True),
            "ColourGains": (0.0, 32.0, None), "NoiseReductionMode": (0, 4, 0),
            "Sharpness": (0.0, 16.0, 1.0), "AfMode": (0, 2, 0), "AfTrigger": (0, 1, 0),
            "LensPosition": (0.0, 32.0, 1.0), "AfRange": (0, 2, 0),
        }
        self.options = {"quality": 90, "compress_level": 1}
        self.camera_config = None
        self.started = self.closed = False
        self.controls = {}
        self.saved, self.calls = [], []
        self.open_requests = 0
        self._lens = 1.0
        Picamera2.instances.append(self)

    def _alive(self):
        if self.closed:
            raise RuntimeError("Camera is closed")

    def create_still_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None,
                                   buffer_count=1, controls={}, display=None, encode=None, queue=True,
                                   sensor={}, use_case="still"):
        bad = set(main) - {"size", "format", "stride", "framesize", "preserve_ar"}
        if bad:
            raise ValueError(f"bad main stream keys {bad}")
        size = tuple(main.get("size", self.sensor_resolution))
        if size[0] > SENSOR[0] or size[1] > SENSOR[1]:
            raise ValueError(f"size {size} exceeds the sensor {SENSOR}")
        if main.get("format", "BGR888") not in ("XBGR8888", "XRGB8888", "RGB888", "BGR888", "YUV420"):
            raise ValueError("bad format")
        return {"use_case": use_case, "main": {"size": size, "format": main.get("format", "BGR888")},
                "buffer_count": buffer_count, "controls": dict(controls)}

    def configure(self, camera_config=None):
        self._alive()
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if not isinstance(camera_config, dict) or "main" not in camera_config:
            raise RuntimeError("configure() needs a configuration from create_*_configuration()")
        self.camera_config = camera_config
        self.calls.append("configure")

    def start(self, config=None, show_preview=False):
        self._alive()
        if self.camera_config is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        self.calls.append("start")

    def _need_started(self):
        self._alive()
        if not self.started:
            raise RuntimeError("Camera must be started")

    def set_controls(self, controls):
        self._alive()
        for name, value in controls.items():
            if name not in self.camera_controls:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
            lo, hi, _ = self.camera_controls[name]
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                if isinstance(v, (int, float)) and not isinstance(lo, bool) and not lo <= v <= hi:
                    raise RuntimeError(f"{name}={v} outside {lo}..{hi}")
        self.controls.update(controls)
        if "LensPosition" in controls and self.controls.get("AfMode", 0) == 0:
            self._lens = controls["LensPosition"]
        self.calls.append(("set_controls", dict(controls)))

    def autofocus_cycle(self, wait=None):
        self._need_started()
        if self.controls.get("AfMode") != 1:
            raise RuntimeError("autofocus_cycle needs AfMode Auto")
        self._lens = 7.25
        return True

    def _frame_metadata(self):
        return {"ExposureTime": self.controls.get("ExposureTime", 20000),
                "AnalogueGain": self.controls.get("AnalogueGain", 1.0),
                "ColourGains": self.controls.get("ColourGains", (1.5, 1.5)),
                "LensPosition": self._lens, "SensorTimestamp": 123456789}

    def capture_metadata(self, wait=None):
        self._need_started()
        return self._frame_metadata()

    def capture_request(self, wait=None, flush=None):
        self._need_started()
        self.open_requests += 1
        return CompletedRequest(self)

    def capture_array(self, name="main", wait=None):
        self._need_started()
        w, h = self.camera_config[name]["size"]
        return np.zeros((h, w, 3), np.uint8)

    def stop(self):
        self._alive()
        self.started = False
        self.calls.append("stop")

    def close(self):
        if self.started:
            self.stop()
        self.closed = True
