"""Simulated stepper drivers and endstop: the 'physics' behind gpiozero's mock pins.

A SimulatedMotor listens to the step/dir/enable mock pins exactly as an A4988 would:
a rising step edge while enabled (active-low) moves the mechanism one step in the
direction the dir pin selects. Its angle is therefore what the pulses really did,
independent of the Stepper's own bookkeeping; the simulated camera looks at it.
"""
from __future__ import annotations

from collections import deque

from gpiozero.pins.mock import MockPWMPin


class DriverPin(MockPWMPin):
    """A mock pin that tells listeners about its changes and keeps a bounded history
    (a long simulated scan makes hundreds of thousands of step edges)."""

    def __init__(self, factory, info):
        self.listeners = []
        super().__init__(factory, info)

    def clear_states(self):
        super().clear_states()
        self.states = deque(self.states, maxlen=10000)

    def _change_state(self, value):
        changed = super()._change_state(value)
        if changed:
            for listener in self.listeners:
                listener(value)
        return changed


class SimulatedMotor:
    def __init__(self, factory, step, dir, enable=None, *, steps_per_rev: float,
                 invert_direction: bool = False, endstop=None, endstop_angle: float | None = None,
                 start_angle: float = 0.0):
        self.steps_per_rev = float(steps_per_rev)
        self.invert_direction = invert_direction
        self._dir = factory.pin(dir)
        self._enable = factory.pin(enable) if enable is not None else None
        self.steps = round(start_angle * self.steps_per_rev / 360.0)
        self.missed_steps = 0  # pulses sent while the driver was disabled
        factory.pin(step).listeners.append(self._on_step_edge)
        self._endstop = factory.pin(endstop) if endstop is not None else None
        self.endstop_angle = endstop_angle
        self._update_endstop()

    @property
    def angle(self) -> float:
        return self.steps * 360.0 / self.steps_per_rev

    @property
    def enabled(self) -> bool:
        return self._enable is None or not self._enable.state

    def _on_step_edge(self, high: bool) -> None:
        if not high:
            return
        if not self.enabled:
            self.missed_steps += 1
            return
        self.steps += 1 if self._dir.state != self.invert_direction else -1
        if self._endstop is not None:
            self._update_endstop()

    def _update_endstop(self) -> None:
        if self._endstop is None or self.endstop_angle is None:
            return
        pressed = self.angle <= self.endstop_angle  # switch sits at the low end of the travel
        if pressed and self._endstop.state:
            self._endstop.drive_low()
        elif not pressed and not self._endstop.state:
            self._endstop.drive_high()
