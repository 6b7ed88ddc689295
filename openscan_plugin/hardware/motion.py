"""Trapezoidal step timing: pure math shared by the stepper and the path planner.

A move of n steps accelerates at `accel` (steps/s^2) up to `max_speed` (steps/s), cruises,
and decelerates symmetrically; short moves never reach top speed (a triangle profile).
"""
from __future__ import annotations

import math

import numpy as np


def trapezoid_seconds(steps, max_speed: float, accel: float):
    """Seconds moves of `steps` steps take under the trapezoidal profile: the one motion model,
    used by the stepper's timing and by the path planner's estimate. `steps` may be a scalar or
    an array and fractional (the planner works in degrees)."""
    n = np.abs(np.asarray(steps, dtype=float))
    full_ramp = max_speed * max_speed / accel           # steps to reach top speed and brake again
    return np.where(n >= full_ramp, n / max_speed + max_speed / accel, 2.0 * np.sqrt(n / accel))


def move_duration(steps: int, max_speed: float, accel: float) -> float:
    """Seconds a move of `steps` whole steps takes."""
    return float(trapezoid_seconds(abs(int(steps)), max_speed, accel))


def step_times(steps: int, max_speed: float, accel: float) -> np.ndarray:
    """Time (s, from the move's start) of each of the `steps` pulses.

    Pulse k (1-based) fires when the ideal motion profile is half-way through step k
    (distance k - 1/2), so the train is symmetric: the intervals shrink while accelerating,
    stay at 1/max_speed while cruising and grow again while braking, and the move ends
    at move_duration().
    """
    n = abs(int(steps))
    if n == 0:
        return np.zeros(0)
    k = np.arange(1, n + 1, dtype=float) - 0.5
    ramp = min(max_speed * max_speed / (2.0 * accel), n / 2.0)
    t_ramp = math.sqrt(2.0 * ramp / accel)
    v_top = accel * t_ramp
    cruise = n - 2.0 * ramp
    t_cruise_end = t_ramp + cruise / v_top
    total = t_cruise_end + t_ramp
    return np.where(
        k <= ramp,
        np.sqrt(2.0 * k / accel),
        np.where(k <= ramp + cruise,
                 t_ramp + (k - ramp) / v_top,
                 total - np.sqrt(np.maximum(2.0 * (n - k) / accel, 0.0))),
    )
