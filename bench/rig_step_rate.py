"""How fast can the Python software pulse loop step with gpiozero's mock pins?

Printed as ratios against a reference measured in the same run (no absolute timing is
meaningful across machines): the reference is the bare cost of toggling the same mock
pin twice per step with no scheduling. Also prints the achieved steps/s, which bounds
the max_speed the software path can honour on this machine (a Pi is ~5-10x slower; use
the pigpio/lgpio hardware-timed path there).

    python bench/rig_step_rate.py [--steps 50000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from gpiozero.pins.mock import MockFactory

from openscan_plugin.hardware.clock import VirtualClock
from openscan_plugin.hardware.motion import step_times
from openscan_plugin.hardware.stepper import Stepper


def reference(pin, n):
    t = time.perf_counter()
    for _ in range(n):
        pin.state = 1
        pin.state = 0
    return time.perf_counter() - t


def stepper_loop(stepper, n):
    # unreachable speed + virtual clock: measures the loop's own overhead per step
    stepper.max_speed, stepper.acceleration = 1e9, 1e12
    t = time.perf_counter()
    stepper.move_steps(n)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50000)
    n = ap.parse_args().steps
    f = MockFactory()
    s = Stepper(6, 5, 23, steps_per_rev=3200, clock=VirtualClock(), pin_factory=f)
    ref_pin = f.pin(12)
    ref_pin.function = "output"
    best_ref = min(reference(ref_pin, n) for _ in range(3))
    best_loop = min(stepper_loop(s, n) for _ in range(3))
    t = time.perf_counter()
    step_times(n, 5000, 20000)
    sched = time.perf_counter() - t
    print(f"steps: {n}")
    print(f"reference (raw mock pin toggles): {n / best_ref:,.0f} steps/s")
    print(f"Stepper software loop:            {n / best_loop:,.0f} steps/s "
          f"= {best_ref / best_loop:.2f} x reference")
    print(f"ramp schedule for {n} steps:     {sched / best_ref:.3f} x reference time")
    print("profile top speed 5000 steps/s = "
          f"{5000 / (n / best_loop):.1%} of what the loop can do here")
    # real clock: does the loop keep a commanded cruise rate, and how regular are the pulses?
    f2 = MockFactory()
    real = Stepper(6, 5, 23, steps_per_rev=3200, max_speed=5000, acceleration=1e9, pin_factory=f2)
    pin = f2.pin(6)
    pin.clear_states()
    real.move_steps(5000)
    rises = np.cumsum([st.timestamp for st in pin.states])[1::2]
    gaps = np.diff(rises)
    print(f"real clock, commanded 5000 steps/s: achieved {1 / np.median(gaps):,.0f} steps/s, "
          f"interval p99 = {np.percentile(gaps, 99) / np.median(gaps):.2f} x median")
    real.close()
    s.close()


if __name__ == "__main__":
    main()
