import json
import time

import pytest

from openscan_plugin.config import ConfigError, available_profiles, load_profile
from openscan_plugin.hardware.light import RingLight


def test_profiles_ship_as_data_files():
    assert {"classic", "mini", "green_shield", "black_shield"} <= set(available_profiles())


def test_shield_selects_pins_and_config_overrides(tmp_path):
    green = load_profile("mini", config={})
    assert green["pins"]["rotor"] == {"step": 6, "dir": 5, "enable": 23}
    cfg = tmp_path / "rig.json"
    cfg.write_text(json.dumps({"profile": "classic", "shield": "black_shield",
                               "overrides": {"motors": {"rotor": {"max_speed": 3000}}}}))
    p = load_profile(config=cfg)
    assert p["name"] == "classic" and p["pins"]["rotor"] == {"step": 27, "dir": 23, "enable": 22}
    assert p["motors"]["rotor"]["max_speed"] == 3000
    assert p["motors"]["rotor"]["steps_per_rev"] == 17067  # untouched values survive the merge
    assert load_profile("mini", config=cfg)["name"] == "mini"  # explicit choice beats the file


def test_bad_profiles_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown profile"):
        load_profile("maxi", config={})
    with pytest.raises(ConfigError, match="shield profile"):
        load_profile("green_shield", config={})
    with pytest.raises(ConfigError, match="min_angle < max_angle"):
        load_profile("mini", config={"overrides": {"motors": {"rotor": {"min_angle": 50, "max_angle": 10}}}})
    bad = tmp_path / "rig.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_profile(config=bad)


def test_ring_light_switches_all_channels_and_times_out(mock_factory):
    light = RingLight([17, 27], idle_timeout_s=0.05, pin_factory=mock_factory)
    light.on()
    assert mock_factory.pin(17).state and mock_factory.pin(27).state and light.level == 1.0
    time.sleep(0.3)
    assert not light.is_lit and light.level == 0.0  # idle timeout switched it off
    light.on()
    light.off()
    assert not mock_factory.pin(17).state
    light.close()


def test_pwm_ring_light_dims(mock_factory):
    from gpiozero.pins.mock import MockPWMPin
    mock_factory.pin_class = MockPWMPin
    light = RingLight([17, 27], pwm=True, brightness=0.4, idle_timeout_s=None, pin_factory=mock_factory)
    light.on()
    assert light.level == pytest.approx(0.4) and mock_factory.pin(17).state == pytest.approx(0.4)
    light.close()
