"""Clocks the motion code waits on, injected like the pin factory.

RealClock really waits (busy-waiting the last stretch, because sleep() overshoots by far
more than a step interval). VirtualClock only advances a counter: the simulated rig uses
it so a simulated scan runs as fast as the CPU allows while keeping the same schedule.
"""
from __future__ import annotations

import time


class RealClock:
    spin_s = 0.002  # below this, busy-wait instead of sleeping

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, t: float) -> None:
        while True:
            left = t - time.perf_counter()
            if left <= 0:
                return
            if left > self.spin_s:
                time.sleep(left - self.spin_s)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep_until(self.now() + seconds)


class VirtualClock:
    def __init__(self, start: float = 0.0):
        self.t = start

    def now(self) -> float:
        return self.t

    def sleep_until(self, t: float) -> None:
        self.t = max(self.t, t)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds
