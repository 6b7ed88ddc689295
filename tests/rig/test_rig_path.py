import numpy as np
import pytest

from openscan_plugin.config import load_profile
from openscan_plugin.scan.geometry import camera_centre
from openscan_plugin.scan.path import (MotionModel, fibonacci_points, order_points, path_move_time,
                                       plan_scan)


@pytest.fixture(scope="module")
def mini():
    return load_profile("mini", config={})


def test_fibonacci_points_stay_in_range_and_cover_the_band_evenly():
    pts = fibonacci_points(200, -20, 70)
    assert len(pts) == 200 and pts[:, 0].min() >= -20 and pts[:, 0].max() <= 70
    centres = np.array([camera_centre(r, t, 1.0) for r, t in pts])
    # equal-area spread: every camera's nearest neighbour is at a similar distance
    d = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nn = d.min(axis=1)
    assert nn.max() < 2.0 * nn.min()
    # azimuths cover all sides of the object
    assert np.histogram(pts[:, 1], bins=8, range=(0, 360))[0].min() >= 15


def test_ordering_is_a_permutation_and_shortens_motor_time(mini):
    model = MotionModel.from_profile(mini)
    pts = fibonacci_points(120, -20, 70)
    order = order_points(pts, model)
    assert sorted(order.tolist()) == list(range(120))
    spiral = path_move_time(pts, model)
    nn_only = path_move_time(pts[order_points(pts, model, max_passes=0)], model)
    tuned = path_move_time(pts[order], model)
    assert tuned <= nn_only < spiral
    assert tuned < 0.9 * spiral  # mini, 120 points: ~76 s of moves in spiral order, ~66 s ordered


def test_turntable_mode_takes_equal_steps_on_each_ring(mini):
    plan = plan_scan(mini, 12, mode="turntable", rings=[0, 30])
    pts = np.array(plan.points)
    assert len(pts) == 24 and set(pts[:, 0]) == {0, 30}
    assert np.allclose(np.diff(pts[:12, 1]), 30.0)
    with pytest.raises(ValueError, match="outside the rotor range"):
        plan_scan(mini, 12, mode="turntable", rings=[80])


def test_plan_estimate_adds_moves_settling_and_captures(mini):
    plan = plan_scan(mini, 40, capture_s=1.5, photos_per_point=2)
    per_point = mini["motors"]["rotor"]["settle_s"] + 2 * 1.5
    assert plan.estimated_duration_s == pytest.approx(plan.move_s + 40 * per_point, abs=0.1)
    assert plan.move_s > 0


def test_a_ramp_change_moves_the_planners_estimate_with_the_stepper(mini, monkeypatch):
    """One motion model: the stepper's move time and the planner's estimate both come from
    hardware/motion.py, so changing the ramp there changes both (no silent desync)."""
    from openscan_plugin.hardware import motion
    from openscan_plugin.hardware.stepper import stepper_from_profile
    from gpiozero.pins.mock import MockFactory

    stepper = stepper_from_profile(mini["motors"]["rotor"], mini["pins"]["rotor"], pin_factory=MockFactory())
    before_plan = plan_scan(mini, 12).estimated_duration_s
    before_move = stepper.move_duration(4000)
    gentle = motion.trapezoid_seconds

    def slower_ramp(steps, max_speed, accel):                  # half the acceleration
        return gentle(steps, max_speed, accel / 2)
    monkeypatch.setattr(motion, "trapezoid_seconds", slower_ramp)
    assert stepper.move_duration(4000) > before_move
    assert plan_scan(mini, 12).estimated_duration_s > before_plan
    stepper.close()
