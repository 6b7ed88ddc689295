"""A step/dir stepper driver (A4988/TMC2208 class) composed from gpiozero devices."""
from __future__ import annotations

import threading

from gpiozero import Button, CompositeDevice, DigitalOutputDevice

from .clock import RealClock
from .motion import move_duration, step_times
from .pulses import pulses_for_factory


class LimitError(ValueError):
    """A move would leave the motor's soft limits."""


class HomingError(RuntimeError):
    """The endstop was not found within the allowed travel."""


class Stepper(CompositeDevice):
    """Angle-addressed stepper with a trapezoidal ramp, soft limits and endstop homing.

    Position is tracked in steps (0 = angle 0); the enable line is active-low and the
    driver is powered only while moving unless `hold` is set. `continuous` motors (the
    turntable) have no limits and take the shorter way round on absolute moves.
    """

    def __init__(self, step_pin, dir_pin, enable_pin=None, *, steps_per_rev: float,
                 max_speed: float = 5000, acceleration: float = 20000,
                 min_angle: float | None = None, max_angle: float | None = None,
                 continuous: bool = False, invert_direction: bool = False,
                 endstop_pin=None, home_angle: float = 0.0, homing_direction: int = -1,
                 homing_speed: float = 1000, hold: bool = False, wake_s: float = 0.002,
                 clock=None, pulses=None, pin_factory=None):
        devices = {
            "step": DigitalOutputDevice(step_pin, pin_factory=pin_factory),
            "dir": DigitalOutputDevice(dir_pin, pin_factory=pin_factory),
        }
        if enable_pin is not None:
            devices["enable"] = DigitalOutputDevice(enable_pin, active_high=False,
                                                    initial_value=False, pin_factory=pin_factory)
        if endstop_pin is not None:
            devices["endstop"] = Button(endstop_pin, pull_up=True, bounce_time=None,
                                        pin_factory=pin_factory)
        super().__init__(_order=tuple(devices), pin_factory=pin_factory, **devices)
        if min_angle is not None and max_angle is not None and min_angle >= max_angle:
            raise ValueError("min_angle must be below max_angle")
        self.steps_per_rev = float(steps_per_rev)
        self.max_speed, self.acceleration = float(max_speed), float(acceleration)
        self.min_angle, self.max_angle = min_angle, max_angle
        self.continuous, self.invert_direction = continuous, invert_direction
        self.home_angle, self.homing_direction = home_angle, (1 if homing_direction > 0 else -1)
        self.homing_speed, self.hold, self.wake_s = float(homing_speed), hold, wake_s
        self.clock = clock or RealClock()
        self.pulses = pulses or pulses_for_factory(self.pin_factory, self.clock)
        self.position = 0  # steps
        self._lock = threading.RLock()

    # -- conversions -----------------------------------------------------------------
    @property
    def angle(self) -> float:
        return self.position * 360.0 / self.steps_per_rev

    def steps_for(self, angle: float) -> int:
        return int(round(angle * self.steps_per_rev / 360.0))

    def _check_limits(self, angle: float) -> None:
        eps = 180.0 / self.steps_per_rev  # half a step of rounding slack
        if self.min_angle is not None and angle < self.min_angle - eps:
            raise LimitError(f"{angle:.2f} deg is below the soft limit {self.min_angle} deg")
        if self.max_angle is not None and angle > self.max_angle + eps:
            raise LimitError(f"{angle:.2f} deg is above the soft limit {self.max_angle} deg")

    def steps_to(self, angle: float) -> int:
        """Signed steps an absolute move to `angle` takes (shorter way round if continuous)."""
        if self.continuous:
            delta = (angle - self.angle + 180.0) % 360.0 - 180.0
            return self.steps_for(self.angle + delta) - self.position
        return self.steps_for(angle) - self.position

    def move_duration(self, steps: int) -> float:
        return move_duration(steps, self.max_speed, self.acceleration)

    # -- moves ---------------------------------------------------------------------
    def move_to(self, angle: float, stop: threading.Event | None = None) -> None:
        if not self.continuous:
            self._check_limits(angle)
        with self._lock:
            self.move_steps(self.steps_to(angle), stop=stop)

    def move_by(self, delta: float, stop: threading.Event | None = None) -> None:
        with self._lock:
            target = self.steps_for(self.angle + delta)
            if not self.continuous:
                self._check_limits(target * 360.0 / self.steps_per_rev)
            self.move_steps(target - self.position, stop=stop)

    def move_steps(self, steps: int, stop: threading.Event | None = None) -> int:
        """Move `steps` (signed) along the ramp; returns the steps actually made."""
        steps = int(steps)
        if steps == 0:
            return 0
        if not self.continuous:
            self._check_limits((self.position + steps) * 360.0 / self.steps_per_rev)
        with self._lock:
            self._power(True)
            try:
                self._set_direction(steps > 0)
                done = self.pulses.run(self.step, step_times(steps, self.max_speed, self.acceleration), stop)
                self.position += done if steps > 0 else -done
                return done
            finally:
                self._power(self.hold)

    def home(self, max_travel_deg: float = 360.0) -> None:
        """Creep towards the endstop at homing speed, then call that point home_angle.

        Steps one at a time in software (whatever the pin factory) because every step
        has to look at the endstop.
        """
        endstop = getattr(self, "endstop", None)
        if endstop is None:
            raise HomingError("this motor has no endstop configured")
        with self._lock:
            self._power(True)
            try:
                self._set_direction(self.homing_direction > 0)
                period, t = 1.0 / self.homing_speed, self.clock.now()
                for _ in range(self.steps_for(max_travel_deg)):
                    if endstop.is_pressed:
                        break
                    t += period
                    self.clock.sleep_until(t)
                    self.step.on()
                    t = max(t, self.clock.now())   # held up: a full period to the next step, no burst
                    self.step.off()
                    self.position += self.homing_direction
                else:
                    if not endstop.is_pressed:
                        raise HomingError(f"endstop not reached within {max_travel_deg} deg")
                self.position = self.steps_for(self.home_angle)
            finally:
                self._power(self.hold)

    def release(self) -> None:
        """Power the driver down (motor free to turn by hand)."""
        self._power(False)

    # -- pins ------------------------------------------------------------------------
    def _set_direction(self, positive: bool) -> None:
        self.dir.value = positive != self.invert_direction

    def _power(self, on: bool) -> None:
        enable = getattr(self, "enable", None)
        if enable is None or enable.is_active == on:
            return
        enable.value = on
        if on:
            self.clock.sleep(self.wake_s)  # drivers need ~1 ms after enable before the first step

    def close(self) -> None:
        if getattr(self, "_all", None) and getattr(self, "enable", None) is not None and not self.enable.closed:
            self.enable.off()
        super().close()


def stepper_from_profile(motor: dict, pins: dict, *, endstop_pin=None, continuous=False,
                         clock=None, pin_factory=None) -> Stepper:
    """Build a Stepper from a profile's motor section and its shield pins."""
    params = {k: v for k, v in motor.items() if k not in NON_DRIVER_KEYS}
    return Stepper(pins["step"], pins["dir"], pins.get("enable"), endstop_pin=endstop_pin,
                   continuous=continuous, clock=clock, pin_factory=pin_factory, **params)


NON_DRIVER_KEYS = {"settle_s"}  # motor settings the rig uses, not the driver
