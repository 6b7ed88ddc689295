"""The hardware button: a short press scans and uploads (or, configured so, only uploads the
newest scan), a long press cancels whatever runs (the scan, else the upload). The ring light
(or a status LED, if the profile has one) shows the state by blinking.

Pins and timings come from the profile: `pins.button`, `pins.status_led` and the `trigger`
section (`action`: "scan" or "upload_last", `bounce_s`, `long_press_s`, `points`).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from gpiozero import LED, Button

from .cloud.upload_queue import QueueError
from .scan.controller import Busy
from .web.scans import list_scans

log = logging.getLogger(__name__)

# (on_s, off_s) per state; None: steady off (the scan drives the ring light itself)
PATTERNS = {"idle": None, "queued": (0.1, 1.9), "uploading": (0.5, 0.5), "processing": (1.0, 1.0),
            "downloading": (0.5, 0.5), "done": (1.5, 0.5), "failed": (0.1, 0.1)}


class Trigger:
    def __init__(self, pin, service, *, scan: Optional[Callable] = None, light=None,
                 action: str = "scan", bounce_s: float = 0.05, long_press_s: float = 2.0,
                 pin_factory=None, poll_s: float = 0.5, controller=None):
        if action not in ("scan", "upload_last"):
            raise ValueError(f"trigger.action must be 'scan' or 'upload_last', not {action!r}")
        self.service, self.scan, self.light, self.action = service, scan, light, action
        self.controller = controller         # the process's ScanController (shared with the web page)
        self.button = Button(pin, pull_up=True, bounce_time=bounce_s, hold_time=long_press_s,
                             pin_factory=pin_factory)
        self.button.when_held = self._long_press
        self.button.when_pressed = self._pressed
        self.button.when_released = self._released
        self.bounce_s = bounce_s
        self._held, self._pressed_at = False, None
        self._busy = threading.Lock()        # one scan at a time; presses meanwhile are ignored
        self.pattern = "idle"
        self._failed_at = -1e9               # a press that could not start anything (shown 30 s)
        self.presses = 0
        self._stop = threading.Event()
        self._indicator = threading.Thread(target=self._show_state, args=(poll_s,), daemon=True)
        self._indicator.start()

    @property
    def _scanning(self) -> bool:
        """A scan runs, whoever started it (this button or the web page)."""
        return self.controller is not None and self.controller.scanning

    # -- button events (gpiozero's thread) ----------------------------------------------------
    def _long_press(self):
        self._held = True
        if self._scanning:
            log.info("long press: cancelling the scan")
            self.controller.cancel()
            return
        entry = self.service.cancel_active()
        log.info("long press: %s", f"cancelled upload #{entry.id}" if entry else "nothing to cancel")

    def _pressed(self):
        self._pressed_at = time.monotonic()

    def _released(self):
        if self._held:                        # the end of a long press, not a short one
            self._held = False
            return
        # software debounce on top of gpiozero's bounce_time (which only some pin factories
        # implement): a press counts when the contact stayed closed for bounce_s
        if self._pressed_at is None or time.monotonic() - self._pressed_at < self.bounce_s:
            return
        self._pressed_at = None
        self.presses += 1
        if not self._busy.acquire(blocking=False):
            log.info("short press ignored: a scan is running")
            return
        threading.Thread(target=self._short_press, name="trigger", daemon=True).start()

    def _short_press(self):
        try:
            if self.action == "scan":
                if self.scan:
                    self.scan(self)           # the controller queues the finished scan itself
                return
            folder = _newest_scan(self.service.settings.scans_dir)
            if folder is None:
                log.warning("short press: no scan to upload in %s", self.service.settings.scans_dir)
                self._failed_at = time.monotonic()
                return
            try:
                entry = self.service.enqueue(folder)
                log.info("queued %s as upload #%s", folder, entry.id)
            except (QueueError, ValueError) as exc:
                log.error("cannot upload %s: %s", folder, exc)
                self._failed_at = time.monotonic()
        except Exception:
            log.exception("the button's scan failed")
            self._failed_at = time.monotonic()
        finally:
            self._busy.release()

    # -- the light ----------------------------------------------------------------------------
    def _show_state(self, poll_s: float):
        shown = None
        while not self._stop.wait(poll_s):
            if self._scanning:                # the scan switches the light itself
                shown = "scanning"
                continue
            entry = self.service.queue.next_active()
            latest = entry or self.service.queue.latest()
            state = entry.state if entry else "idle"
            if not entry and latest is not None and latest.state in ("done", "failed") \
                    and time.time() - latest.updated < 30:
                state = latest.state          # show the outcome for half a minute
            if state == "idle" and time.monotonic() - self._failed_at < 30:
                state = "failed"
            if state != shown:
                self._blink(PATTERNS.get(state))
                shown = state
            self.pattern = state

    def _blink(self, pattern):
        leds = _leds(self.light)
        for led in leds:
            if pattern is None:
                led.off()
            else:
                led.blink(on_time=pattern[0], off_time=pattern[1], background=True)

    def stop(self):
        self._stop.set()
        self._indicator.join(5)
        self.button.close()
        self._blink(None)                    # the rig is the controller's: its owner closes it


def _leds(light) -> list:
    if light is None:
        return []
    if isinstance(light, LED):
        return [light]
    return [led for led in light if not led.closed]   # the ring light: a CompositeDevice of LEDs


def _newest_scan(scans_dir: Path) -> Optional[Path]:
    scans = [s for s in list_scans(Path(scans_dir)) if s["scan_status"] in ("complete", "photos")]
    return Path(scans[0]["folder"]) if scans else None


def scan_runner(controller, points: int):
    """What a short press runs: a new scan of `points` positions through the shared controller,
    which queues it for upload when complete (so the page shows the button's scan and its
    upload alike): nothing is left for the trigger to queue."""

    def run(trigger: Trigger) -> None:
        try:
            job = controller.start({"preset": "custom", "points": points, "upload": True}, source="button")
        except Busy as exc:
            log.info("short press ignored: %s", exc)
            return
        job.wait()
        if job.state != "complete":
            log.info("scan %s: %s, kept, not uploaded", job.folder, job.state)
        elif job.upload_error:
            log.error("scan %s: %s", job.folder, job.upload_error)
            trigger._failed_at = time.monotonic()
    return run


def trigger_from_profile(profile: dict, service, controller, *, points: int | None = None) -> Optional[Trigger]:
    """The daemon's button, or None when the profile wires none (pins.button null). It shares
    the controller's rig (its pins, its ring light) and scan state with the web page."""
    pin = profile.get("pins", {}).get("button")
    if pin is None:
        log.info("no pins.button in the profile: no hardware trigger")
        return None
    cfg = profile.get("trigger", {})
    rig = controller.rig
    led_pin = profile["pins"].get("status_led")
    light = LED(led_pin, pin_factory=rig.pin_factory) if led_pin is not None else rig.light
    scan = scan_runner(controller, points or cfg.get("points", 60))
    return Trigger(pin, service, scan=scan, light=light, action=cfg.get("action", "scan"),
                   bounce_s=cfg.get("bounce_s", 0.05), long_press_s=cfg.get("long_press_s", 2.0),
                   pin_factory=rig.pin_factory, controller=controller)
