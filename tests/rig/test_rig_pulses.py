"""Hardware-timed pulse paths, checked against recording stand-ins for pigpio and lgpio."""
from collections import namedtuple

import pytest
from gpiozero import DigitalOutputDevice

from openscan_plugin.hardware.motion import move_duration, step_times
from openscan_plugin.hardware.pulses import (PULSE_US, LgpioPulses, PigpioWavePulses, SoftwarePulses,
                                             pulses_for_factory)

Pulse = namedtuple("Pulse", "on off delay")


class FakePi:
    """Records waves; 'transmits' instantly (wave_tx_at/busy report idle)."""

    def __init__(self):
        self.waves, self.modes, self.deleted, self._pending = {}, [], [], []

    def wave_add_generic(self, pulses):
        self._pending.extend(pulses)

    def wave_create(self):
        wid = len(self.waves)
        self.waves[wid], self._pending = self._pending, []
        return wid

    def wave_send_using_mode(self, wid, mode):
        self.modes.append(mode)

    def wave_tx_at(self):
        return 9999

    def wave_tx_busy(self):
        return 0

    def wave_delete(self, wid):
        self.deleted.append(wid)


class FakeLgpio:
    TX_PWM = 0

    def __init__(self):
        self.queue = []

    def tx_room(self, handle, gpio, kind):
        return 10

    def tx_pulse(self, handle, gpio, on_us, off_us, offset, cycles):
        self.queue.append((gpio, on_us, off_us, cycles))

    def tx_busy(self, handle, gpio, kind):
        return 0


def test_pigpio_waves_carry_every_pulse_on_schedule(mock_factory):
    step = DigitalOutputDevice(6, pin_factory=mock_factory)
    pi = FakePi()
    times = step_times(5000, 4000, 20000)
    sent = PigpioWavePulses(pi, pulse_factory=Pulse).run(step, times)
    pulses = [p for wid in sorted(pi.waves) for p in pi.waves[wid]]
    rises = [p for p in pulses if p.on == 1 << 6]
    assert sent == 5000 and len(rises) == 5000
    assert all(p.off == 0 for p in rises) and sum(p.off == 1 << 6 for p in pulses) == 5000
    total_us = sum(p.delay for p in pulses)
    assert total_us == pytest.approx(times[-1] * 1e6, abs=5000 * 0.5 + 10)  # us rounding only
    assert set(pi.modes) == {PigpioWavePulses.WAVE_MODE_ONE_SHOT_SYNC}  # chained without gaps
    assert sorted(pi.deleted) == sorted(pi.waves)  # no wave leaks in the daemon


def test_lgpio_queue_encodes_the_ramp_and_one_cruise_entry(mock_factory):
    step = DigitalOutputDevice(6, pin_factory=mock_factory)
    lg = FakeLgpio()
    times = step_times(8000, 4000, 20000)
    assert LgpioPulses(1, lgpio_module=lg).run(step, times) == 8000
    assert sum(c for *_, c in lg.queue) == 8000 and {g for g, *_ in lg.queue} == {6}
    periods = [(on + off, c) for _, on, off, c in lg.queue]
    assert max(c for _, c in periods) > 7000 // 2  # the cruise is one queue entry
    assert sum(p * c for p, c in periods) / 1e6 == pytest.approx(move_duration(8000, 4000, 20000), rel=0.01)
    assert all(on == PULSE_US for _, on, _, _ in lg.queue)


def test_pulse_path_follows_the_pin_factory(mock_factory, monkeypatch):
    assert isinstance(pulses_for_factory(mock_factory), SoftwarePulses)
    PiGPIOFactory = type("PiGPIOFactory", (), {"connection": FakePi()})
    LGPIOFactory = type("LGPIOFactory", (), {"_handle": 3})
    import sys
    import types
    monkeypatch.setitem(sys.modules, "pigpio", types.SimpleNamespace(pulse=Pulse))
    monkeypatch.setitem(sys.modules, "lgpio", FakeLgpio())
    assert isinstance(pulses_for_factory(PiGPIOFactory()), PigpioWavePulses)
    assert isinstance(pulses_for_factory(LGPIOFactory()), LgpioPulses)
