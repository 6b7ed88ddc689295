"""Ways to emit a step-pulse train that follows a ramp schedule.

`SoftwarePulses` toggles the step device from Python (works with every pin factory,
including the mock one). On a Pi, `pulses_for_factory` prefers a hardware-timed path:
pigpio DMA waves or lgpio's queued pulse trains, whose timing does not depend on Python.
"""
from __future__ import annotations

import threading

import numpy as np

from .clock import RealClock

PULSE_US = 5  # step pulse high time; A4988/TMC2208 need >= 1-2 us


class SoftwarePulses:
    """Bit-bang the step pin, waiting on the clock for each scheduled pulse time.

    Python can be held up (another thread holding the GIL, a busy Pi). A late pulse moves the
    rest of the ramp back by its delay rather than the loop catching up with a burst: pulses
    closer than the ramp allows are faster than the motor can follow, and it stalls.
    """

    hardware_timed = False

    def __init__(self, clock=None):
        self.clock = clock or RealClock()

    def run(self, step_device, times: np.ndarray, stop: threading.Event | None = None) -> int:
        """Emit len(times) pulses at `times` (s from now), never closer together than the
        schedule; returns the number sent."""
        clock, on, off = self.clock, step_device.on, step_device.off
        origin = clock.now()   # start time plus what the pulses so far were late by
        for i, t in enumerate(times.tolist()):
            if stop is not None and i % 64 == 0 and stop.is_set():
                return i
            due = origin + t
            clock.sleep_until(due)
            on()
            origin += clock.now() - due   # measured after the pulse, so it counts in full
            off()
        return len(times)


def _gpio_number(device) -> int:
    """BCM number of a device's pin (PinInfo.number is the physical header pin, not BCM)."""
    return int(device.pin.info.name[4:])  # "GPIO6" -> 6, as gpiozero's PiPin does


def _intervals_us(times: np.ndarray) -> np.ndarray:
    """Integer microsecond periods between pulses (the first measured from the start)."""
    return np.maximum(np.round(np.diff(np.concatenate([[0.0], times])) * 1e6).astype(int), 2 * PULSE_US)


class PigpioWavePulses:
    """pigpio DMA waves: microsecond-exact pulses, chunked and chained without gaps."""

    hardware_timed = True
    CHUNK = 2000          # pulses per wave (pigpio allows ~12000 pulse entries per wave)
    WAVE_MODE_ONE_SHOT_SYNC = 2

    def __init__(self, pi, pulse_factory=None):
        self.pi = pi
        if pulse_factory is None:
            import pigpio  # only on a Pi with the pigpio daemon
            pulse_factory = pigpio.pulse
        self.pulse = pulse_factory

    def run(self, step_device, times: np.ndarray, stop: threading.Event | None = None) -> int:
        mask = 1 << _gpio_number(step_device)
        periods = _intervals_us(times)
        sent, previous = 0, None
        for start in range(0, len(periods), self.CHUNK):
            if stop is not None and stop.is_set():
                break
            chunk = periods[start:start + self.CHUNK]
            # the pulse goes high after its period's wait, so the first edge lands on schedule
            pulses = []
            for p in chunk.tolist():
                pulses.append(self.pulse(0, 0, p - PULSE_US))
                pulses.append(self.pulse(mask, 0, PULSE_US))
                pulses.append(self.pulse(0, mask, 0))
            self.pi.wave_add_generic(pulses)
            wid = self.pi.wave_create()
            # SYNC mode starts this wave exactly when the previous one ends: no gap at speed
            self.pi.wave_send_using_mode(wid, self.WAVE_MODE_ONE_SHOT_SYNC)
            if previous is not None:
                self._wait_until_not_current(previous)
                self.pi.wave_delete(previous)
            previous = wid
            sent += len(chunk)
        while self.pi.wave_tx_busy():
            threading.Event().wait(0.001)
        if previous is not None:
            self.pi.wave_delete(previous)
        return sent

    def _wait_until_not_current(self, wid):
        while self.pi.wave_tx_at() == wid:
            threading.Event().wait(0.001)


class LgpioPulses:
    """lgpio's queued pulse trains: one tx_pulse entry per run of equal periods."""

    hardware_timed = True

    def __init__(self, handle, lgpio_module=None):
        if lgpio_module is None:
            import lgpio  # only on a Pi
            lgpio_module = lgpio
        self.lg, self.handle = lgpio_module, handle

    def run(self, step_device, times: np.ndarray, stop: threading.Event | None = None) -> int:
        gpio = _gpio_number(step_device)
        periods = _intervals_us(times)
        # run-length encode: the cruise phase becomes a single queue entry
        edges = np.flatnonzero(np.diff(periods)) + 1
        starts = np.concatenate([[0], edges])
        counts = np.diff(np.concatenate([starts, [len(periods)]]))
        sent = 0
        for s, c in zip(starts.tolist(), counts.tolist()):
            if stop is not None and stop.is_set():
                break
            while self.lg.tx_room(self.handle, gpio, self.lg.TX_PWM) <= 0:
                threading.Event().wait(0.0005)
            p = int(periods[s])
            self.lg.tx_pulse(self.handle, gpio, PULSE_US, p - PULSE_US, 0, c)
            sent += c
        while self.lg.tx_busy(self.handle, gpio, self.lg.TX_PWM):
            threading.Event().wait(0.001)
        return sent


def pulses_for_factory(pin_factory, clock=None):
    """The best pulse path the pin factory offers (by type name: the imports exist only on a Pi)."""
    kind = type(pin_factory).__name__
    if kind == "PiGPIOFactory":
        return PigpioWavePulses(pin_factory.connection)
    if kind == "LGPIOFactory":
        return LgpioPulses(pin_factory._handle)
    return SoftwarePulses(clock)
