"""The ring light: one gpiozero LED (or PWMLED for dimming) per channel, off when idle."""
from __future__ import annotations

import threading

from gpiozero import LED, PWMLED, CompositeDevice


class RingLight(CompositeDevice):
    """All channels switch together; an idle timer switches them off `idle_timeout_s`
    after the last `on()` so a crashed or paused scan does not leave the LEDs burning."""

    def __init__(self, pins, *, pwm: bool = False, brightness: float = 1.0,
                 idle_timeout_s: float | None = 60.0, pin_factory=None):
        cls = PWMLED if pwm else LED
        leds = [cls(p, pin_factory=pin_factory) for p in pins]
        super().__init__(*leds, pin_factory=pin_factory)
        self.pwm, self.brightness = pwm, float(brightness)
        self.idle_timeout_s = idle_timeout_s
        self._timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()

    @property
    def is_lit(self) -> bool:
        return any(led.is_active for led in self)

    @property
    def level(self) -> float:
        """0..1: how much light is on (what the simulated camera sees)."""
        if not len(self):
            return 0.0
        return sum(float(led.value) for led in self) / len(self)

    def on(self) -> None:
        for led in self:
            if self.pwm:
                led.value = self.brightness
            else:
                led.on()
        self._restart_timer()

    def off(self) -> None:
        self._cancel_timer()
        for led in self:
            led.off()

    def _restart_timer(self) -> None:
        if self.idle_timeout_s is None:
            return
        with self._timer_lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.idle_timeout_s, self._idle_off)
            self._timer.daemon = True
            self._timer.start()

    def _idle_off(self) -> None:
        if not self.closed:
            for led in self:
                led.off()

    def _cancel_timer(self) -> None:
        with self._timer_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def close(self) -> None:
        self._cancel_timer()
        super().close()
