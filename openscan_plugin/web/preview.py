"""The live preview as MJPEG: one thread renders frames while anyone watches, every viewer gets
the newest one (two browser tabs cost one camera, not two). While a scan runs the camera belongs
to the scan, so viewers see its latest photo instead."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

BOUNDARY = "frame"


def encode_jpeg(rgb: np.ndarray, quality: int = 75) -> bytes:
    import cv2
    ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return jpg.tobytes()


def thumbnail(path: Path, width: int) -> np.ndarray:
    """RGB of the photo at `path`, `width` pixels wide at most."""
    import cv2
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read {Path(path).name}")
    rgb = img[:, :, ::-1]
    return thumbnail_array(rgb, width) if rgb.shape[1] > width else rgb


class PreviewHub:
    def __init__(self, controller, max_fps: float = 10.0, width: int = 480, quality: int = 75):
        self.controller, self.period = controller, 1.0 / max_fps
        self.width, self.quality = width, quality
        self._cond = threading.Condition()
        self._frame, self._seq, self._viewers = None, 0, 0
        self._thread = None
        self._photo_cache = (None, None)

    def frames(self, limit: int | None = None):
        """JPEG frames for one viewer, each newer than the last; ends when the rig shuts down."""
        with self._cond:
            self._viewers += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="preview", daemon=True)
                self._thread.start()
        seen, sent = 0, 0
        try:
            while not self.controller.closed and (limit is None or sent < limit):
                with self._cond:
                    self._cond.wait_for(lambda seen=seen: self._seq != seen or self.controller.closed, 5.0)
                    if self._seq == seen:
                        continue
                    frame, seen = self._frame, self._seq
                yield frame
                sent += 1
        finally:
            with self._cond:
                self._viewers -= 1

    def _loop(self):
        """Render while anyone watches; stop (freeing the camera) when the last viewer leaves."""
        while not self.controller.closed:
            with self._cond:
                if self._viewers == 0:
                    self._thread = None
                    return
            t0 = time.monotonic()
            try:
                jpg = self._render()
            except Exception:                  # a camera hiccup: try again next tick
                jpg = None
            if jpg is not None:
                with self._cond:
                    self._frame, self._seq = jpg, self._seq + 1
                    self._cond.notify_all()
            time.sleep(max(0.0, self.period - (time.monotonic() - t0)))

    def _render(self):
        rgb = self.controller.setup.preview_frame()
        if rgb is None:                        # scanning: show what the scan took last
            path = self.controller.latest_photo()
            if path is None:
                time.sleep(0.1)
                return None
            if self._photo_cache[0] != path:
                self._photo_cache = (path, encode_jpeg(thumbnail(path, self.width), self.quality))
            if self._frame is self._photo_cache[1]:
                time.sleep(0.2)
                return None
            return self._photo_cache[1]
        if rgb.shape[1] > self.width:
            rgb = thumbnail_array(rgb, self.width)
        return encode_jpeg(rgb, self.quality)


def thumbnail_array(rgb: np.ndarray, width: int) -> np.ndarray:
    import cv2
    h = max(1, round(rgb.shape[0] * width / rgb.shape[1]))
    return cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)


def multipart(frames):
    """multipart/x-mixed-replace body parts for a sequence of JPEGs."""
    for jpg in frames:
        yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpg)}\r\n\r\n").encode() \
            + jpg + b"\r\n"
