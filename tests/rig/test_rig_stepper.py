import threading

import numpy as np
import pytest
from gpiozero.pins.mock import MockFactory

from openscan_plugin.hardware.clock import VirtualClock
from openscan_plugin.hardware.motion import move_duration, step_times
from openscan_plugin.hardware.stepper import HomingError, LimitError, Stepper

STEP, DIR, EN, END = 6, 5, 23, 24


def make(factory, **kw):
    params = dict(steps_per_rev=3200, max_speed=4000, acceleration=20000, clock=VirtualClock(),
                  pin_factory=factory)
    params.update(kw)
    return Stepper(STEP, DIR, EN, **params)


def rising_edges(pin):
    return sum(1 for s in pin.states if s.state)


def test_pulse_count_direction_and_position(mock_factory):
    m = make(mock_factory)
    step, dirp = mock_factory.pin(STEP), mock_factory.pin(DIR)
    step.clear_states()
    m.move_to(90)
    assert rising_edges(step) == 800 and dirp.state is True
    assert m.position == 800 and m.angle == pytest.approx(90)
    step.clear_states()
    m.move_by(-45)
    assert rising_edges(step) == 400 and dirp.state is False
    assert m.angle == pytest.approx(45)


def test_inverted_direction_flips_the_dir_pin(mock_factory):
    m = make(mock_factory, invert_direction=True)
    m.move_by(10)
    assert mock_factory.pin(DIR).state is False
    assert m.angle == pytest.approx(10, abs=0.2)


def test_enable_is_active_low_and_only_during_moves(mock_factory):
    m = make(mock_factory)
    en = mock_factory.pin(EN)
    assert en.state is True  # driver disabled after construction
    seen = []
    real_on = m.step.on
    m.step.on = lambda: (seen.append(en.state), real_on())
    m.move_by(5)
    assert seen and not any(seen)  # enabled (low) for every pulse
    assert en.state is True  # and disabled again when idle
    held = make(MockFactory(), hold=True)
    held.move_by(5)
    assert held.enable.is_active  # hold keeps torque on


def test_ramp_accelerates_cruises_and_brakes():
    t = step_times(4000, max_speed=4000, accel=20000)
    d = np.diff(t)
    ramp = int(4000 ** 2 / (2 * 20000))  # 400 steps to top speed
    assert np.all(np.diff(d[:ramp - 2]) < 0)          # intervals shrink while accelerating
    assert np.allclose(d[ramp + 5:-ramp - 5], 1 / 4000)  # constant at top speed
    assert np.all(np.diff(d[-ramp + 2:]) > 0)         # and grow while braking
    assert t[0] + t[-1] == pytest.approx(move_duration(4000, 4000, 20000))  # symmetric, ends on time
    # a short move never reaches top speed: triangle profile, symmetric
    s = np.diff(step_times(100, 4000, 20000))
    assert s.min() > 1 / 4000 and np.allclose(s, s[::-1], rtol=1e-6, atol=1e-9)


def test_software_pulses_follow_the_ramp_in_real_time(mock_factory):
    m = Stepper(STEP, DIR, EN, steps_per_rev=3200, max_speed=1000, acceleration=5000,
                pin_factory=mock_factory)  # real clock
    step = mock_factory.pin(STEP)
    step.clear_states()
    m.move_steps(200)
    rises = np.cumsum([s.timestamp for s in step.states])[1::2]  # time of each rising edge
    gaps = np.diff(rises)
    assert len(rises) == 200
    schedule = step_times(200, 1000, 5000)
    # never faster than the ramp (the motor would stall), even where Python was held up
    assert (gaps >= np.diff(schedule) - 1e-6).all()
    # on time unless held up; a loaded machine (a busy pytest process) makes it later, not faster
    assert schedule[-1] - schedule[0] <= rises[-1] - rises[0] < 3 * move_duration(200, 1000, 5000)
    assert np.median(gaps[:5]) > 2 * np.median(gaps[90:110])  # slow start, fast middle


def test_pulses_held_up_by_a_busy_thread_never_come_faster_than_the_ramp(mock_factory):
    """On a Pi the web UI and the upload queue share the GIL with the motor loop: a late pulse
    must delay the rest of the move, not be made up with a burst the motor cannot follow."""
    import threading

    done = threading.Event()

    def busy():
        while not done.is_set():
            pass

    m = Stepper(STEP, DIR, EN, steps_per_rev=3200, max_speed=1000, acceleration=5000,
                pin_factory=mock_factory)  # real clock
    step = mock_factory.pin(STEP)
    step.clear_states()
    spinner = threading.Thread(target=busy, daemon=True)
    spinner.start()
    try:
        m.move_steps(200)
    finally:
        done.set()
        spinner.join()
    rises = np.cumsum([s.timestamp for s in step.states])[1::2]
    assert len(rises) == 200
    assert (np.diff(rises) >= np.diff(step_times(200, 1000, 5000)) - 1e-6).all()


def test_soft_limits_refuse_before_moving(mock_factory):
    m = make(mock_factory, min_angle=-20, max_angle=70)
    step = mock_factory.pin(STEP)
    m.move_to(70)
    step.clear_states()
    with pytest.raises(LimitError):
        m.move_to(71)
    with pytest.raises(LimitError):
        m.move_by(-100)
    assert rising_edges(step) == 0 and m.angle == pytest.approx(70, abs=360 / 3200)


def test_continuous_motor_takes_the_short_way_round(mock_factory):
    m = make(mock_factory, continuous=True)
    m.move_to(350)
    assert m.angle == pytest.approx(-10, abs=0.12)  # went backwards 10 deg, not forwards 350
    m.move_to(20)
    assert m.angle == pytest.approx(20, abs=0.12)


def test_homing_stops_at_the_endstop_and_resets_position(mock_factory):
    m = make(mock_factory, endstop_pin=END, home_angle=-25, homing_direction=-1)
    endstop = mock_factory.pin(END)
    assert not m.endstop.is_pressed
    m.position = 5000  # unknown real position after power-up
    count = {"n": 0}
    real_on = m.step.on

    def on():  # the arm reaches the switch after 300 steps
        count["n"] += 1
        if count["n"] == 300:
            endstop.drive_low()
        real_on()
    m.step.on = on
    m.home()
    assert count["n"] == 300 and mock_factory.pin(DIR).state is False
    assert m.angle == pytest.approx(-25, abs=0.2)


def test_homing_without_switch_contact_fails(mock_factory):
    m = make(mock_factory, endstop_pin=END)
    with pytest.raises(HomingError):
        m.home(max_travel_deg=10)


def test_stop_event_interrupts_a_move_and_position_stays_true(mock_factory):
    m = make(mock_factory)
    stop = threading.Event()
    real_on, n = m.step.on, {"k": 0}

    def on():
        n["k"] += 1
        if n["k"] == 100:
            stop.set()
        real_on()
    m.step.on = on
    done = m.move_steps(3000, stop=stop)
    assert 100 <= done < 3000 and m.position == done
    assert rising_edges(mock_factory.pin(STEP)) == done
