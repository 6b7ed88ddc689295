"""A rig = two steppers + ring light + camera, composed over an injected pin factory.

The same `build_mechanism` wires a real Pi (default pin factory, picamera2 camera) and the
simulated rig (mock pin factory with simulated drivers, rendered camera, virtual clock); which
one a process gets is chosen once, in hardware/backend.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .camera import Camera
from .clock import RealClock
from .light import RingLight
from .stepper import Stepper, stepper_from_profile


@dataclass
class Rig:
    profile: dict
    rotor: Stepper
    turntable: Stepper
    light: RingLight
    camera: Camera
    clock: object = field(default_factory=RealClock)

    @property
    def pin_factory(self):
        """The pins the rig runs on: other devices of the process (button, status LED) use them too."""
        return self.rotor.pin_factory

    @property
    def angles(self) -> tuple:
        return self.rotor.angle, self.turntable.angle

    def move_to(self, rotor: float | None = None, turntable: float | None = None, stop=None) -> None:
        """Move the rotor, then the turntable (one at a time: the drivers share the supply)."""
        if rotor is not None:
            self.rotor.move_to(rotor, stop=stop)
        if turntable is not None:
            self.turntable.move_to(turntable, stop=stop)

    def settle(self) -> None:
        """Wait for vibrations to die down after a move."""
        motors = self.profile["motors"]
        self.clock.sleep(max(motors["rotor"].get("settle_s", 0.0), motors["turntable"].get("settle_s", 0.0)))

    def home(self) -> bool:
        """Home the rotor against its endstop if it has one; True if it did."""
        if getattr(self.rotor, "endstop", None) is None:
            return False
        self.rotor.home(max_travel_deg=self.rotor.max_angle - self.rotor.min_angle + 20
                        if self.rotor.min_angle is not None else 360)
        return True

    def release(self) -> None:
        self.rotor.release()
        self.turntable.release()
        self.light.off()

    def close(self) -> None:
        for part in (self.light, self.rotor, self.turntable, self.camera):
            try:
                part.close()
            except Exception:  # closing is best effort; one failure must not leave the rest on
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_mechanism(profile: dict, *, pin_factory=None, clock=None) -> tuple:
    """The rotor, turntable and ring light of `profile` on `pin_factory` (gpiozero's default if None)."""
    pins, motors = profile["pins"], profile["motors"]
    endstops = pins.get("endstops") or {}
    rotor = stepper_from_profile(motors["rotor"], pins["rotor"], endstop_pin=endstops.get("rotor"),
                                 clock=clock, pin_factory=pin_factory)
    turntable = stepper_from_profile(motors["turntable"], pins["turntable"],
                                     endstop_pin=endstops.get("turntable"), continuous=True,
                                     clock=clock, pin_factory=pin_factory)
    light_cfg = profile.get("light", {})
    light = RingLight(pins.get("lights", []), pwm=light_cfg.get("pwm", False),
                      brightness=light_cfg.get("brightness", 1.0),
                      idle_timeout_s=light_cfg.get("idle_timeout_s", 60.0), pin_factory=pin_factory)
    return rotor, turntable, light


def build_rig(profile: dict, camera: Camera, *, pin_factory=None, clock=None) -> Rig:
    """Compose the rig described by `profile` on `pin_factory` (gpiozero's default if None)."""
    clock = clock or RealClock()
    rotor, turntable, light = build_mechanism(profile, pin_factory=pin_factory, clock=clock)
    return Rig(profile, rotor, turntable, light, camera, clock)
