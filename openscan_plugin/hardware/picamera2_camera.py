"""Camera adapter for picamera2 (libcamera) on the Raspberry Pi.

picamera2 is imported only here, inside the constructor: everything else in the plugin
runs and is tested without it. Still configuration at full sensor resolution, manual
exposure/gain, fixed white balance, no denoise/sharpening, and manual lens positions
(dioptres) on autofocus modules so a focus stack is reproducible.
"""
from __future__ import annotations

import time

from openscan_protocol.atomic import commit

from .camera import Camera, CameraSettings, Capture

AF_MANUAL, AF_AUTO = 0, 1          # libcamera controls.AfModeEnum values
NOISE_REDUCTION_OFF = 0            # libcamera controls.draft.NoiseReductionModeEnum.Off


class Picamera2Camera(Camera):
    def __init__(self, camera_num: int = 0, resolution=None):
        from picamera2 import Picamera2  # only on a Pi (needs the system libcamera bindings)
        self._cam = Picamera2(camera_num)
        props = self._cam.camera_properties
        self.model = props.get("Model", "unknown")
        self._size = tuple(resolution) if resolution else tuple(props["PixelArraySize"])
        # one buffer: a 16-64 MP still frame is large and scans never need a queue
        config = self._cam.create_still_configuration(main={"size": self._size, "format": "RGB888"},
                                                      buffer_count=1)
        self._cam.configure(config)
        self._cam.start()
        self._lens = None

    @classmethod
    def from_profile(cls, profile: dict, camera_num: int = 0) -> "Picamera2Camera":
        return cls(camera_num, profile.get("camera", {}).get("resolution"))

    @property
    def resolution(self):
        return self._size

    @property
    def has_autofocus(self) -> bool:
        return "AfMode" in self._cam.camera_controls

    def _supported(self, controls: dict) -> dict:
        return {k: v for k, v in controls.items() if k in self._cam.camera_controls}

    def apply(self, settings: CameraSettings) -> None:
        controls = {"AeEnable": False, "ExposureTime": int(settings.exposure_us),
                    "AnalogueGain": float(settings.analogue_gain),
                    "NoiseReductionMode": NOISE_REDUCTION_OFF, "Sharpness": 0.0}
        if settings.colour_gains:
            controls.update(AwbEnable=False, ColourGains=tuple(float(g) for g in settings.colour_gains))
        else:
            controls["AwbEnable"] = True
        if self.has_autofocus and settings.lens_position is not None:
            controls.update(AfMode=AF_MANUAL, LensPosition=float(settings.lens_position))
            self._lens = float(settings.lens_position)
        self._cam.options["quality"] = int(settings.jpeg_quality)
        self._cam.set_controls(self._supported(controls))

    def autofocus(self):
        if not self.has_autofocus:
            return None
        self._cam.set_controls({"AfMode": AF_AUTO})
        if not self._cam.autofocus_cycle():
            raise RuntimeError("autofocus did not converge (is the object lit and in view?)")
        lens = self._cam.capture_metadata().get("LensPosition")
        if lens is not None:  # lock it: every photo at this point uses the same focus
            self.set_lens_position(lens)
        return self._lens

    def set_lens_position(self, dioptres: float) -> None:
        if not self.has_autofocus:
            return
        lo, hi, _ = self._cam.camera_controls["LensPosition"]
        self._lens = min(max(float(dioptres), lo), hi)
        self._cam.set_controls({"AfMode": AF_MANUAL, "LensPosition": self._lens})
        # let the lens travel: wait (a few frames at most) for metadata to report it
        for _ in range(10):
            md = self._cam.capture_metadata()
            if abs(md.get("LensPosition", self._lens) - self._lens) < 0.05:
                break

    @property
    def lens_position(self):
        return self._lens

    def capture(self, path: str) -> Capture:
        tmp = f"{path}.part.jpg"  # picamera2 picks the encoder from the extension
        request = self._cam.capture_request()
        try:
            request.save("main", tmp)
            metadata = request.get_metadata()
        finally:
            request.release()
        commit(tmp, path)
        keep = ("ExposureTime", "AnalogueGain", "ColourGains", "LensPosition", "SensorTimestamp",
                "FocusFoM", "Lux", "ColourTemperature")
        md = {k: metadata[k] for k in keep if k in metadata}
        md.setdefault("SensorTimestamp", time.monotonic_ns())
        return Capture(path, md)

    def preview(self):
        frame = self._cam.capture_array("main")
        step = max(1, frame.shape[1] // 640)
        return frame[::step, ::step, 2::-1].copy()  # picamera2's "RGB888" is B,G,R in memory

    def close(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
