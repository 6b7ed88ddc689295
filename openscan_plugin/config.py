"""Rig profiles (JSON data files) merged with the user's config file.

A *rig profile* (classic, mini) holds the mechanics, camera and geometry; a *shield
profile* (green_shield, black_shield) holds the pin layout. The user's config file
selects both and may override any value; it also stores the camera calibration that
`openscan calibrate` computes. No pin number lives in code: they all come from here.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
from importlib import resources
from pathlib import Path

from openscan_protocol.atomic import write_atomically

PROFILE_PACKAGE = "openscan_plugin.profiles"
DEFAULT_CONFIG = Path("~/.config/openscan/rig.json")
PRIVATE = 0o600                 # files that hold the token: the owner (the rig's user) only


class ConfigError(ValueError):
    """A profile or config file is missing, malformed or inconsistent."""


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The user's config file: the argument, else $OPENSCAN_CONFIG, else ~/.config/openscan/rig.json."""
    if path is None:
        path = os.environ.get("OPENSCAN_CONFIG") or DEFAULT_CONFIG
    return Path(path).expanduser()


def available_profiles() -> list[str]:
    files = resources.files(PROFILE_PACKAGE).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".json"))


def read_profile_file(name: str) -> dict:
    name = name.replace("-", "_").replace(" ", "_").lower()
    ref = resources.files(PROFILE_PACKAGE).joinpath(f"{name}.json")
    if not ref.is_file():
        raise ConfigError(f"unknown profile {name!r}; available: {', '.join(available_profiles())}")
    return json.loads(ref.read_text())


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of `base` with `override` merged in, recursively for nested mappings."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_user_config(path: str | os.PathLike | None = None) -> dict:
    p = config_path(path)
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a JSON object")
    return data


def write_user_config(data: dict, path: str | os.PathLike | None = None) -> Path:
    """Write the config atomically (temp file + rename) so a power cut never leaves half a file,
    readable by its owner only (it holds the cloud token and the panel's password hash)."""
    p = config_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(p, json.dumps(data, indent=2) + "\n", mode=PRIVATE)
    return p


def settings_from_config(cls, values: dict | None, section: str):
    """A settings dataclass from a config section: missing keys keep their default, each
    value is read as its default's type, an unknown key or a bad number is a ConfigError."""
    values = values or {}
    unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"{section}: unknown setting(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**{k: type(getattr(cls, k))(v) for k, v in values.items()})
    except (TypeError, ValueError):
        raise ConfigError(f"{section}: numbers expected, got {values}") from None


def make_private(*paths: str | os.PathLike, create: bool = False) -> None:
    """Owner-only mode for files holding secrets, tightening ones an older version wrote; with
    `create` a missing file is made empty first (SQLite then keeps its mode, -wal/-shm too)."""
    for path in paths:
        if not create and not os.path.exists(path):
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, PRIVATE)
            try:
                os.fchmod(fd, PRIVATE)
            finally:
                os.close(fd)
        except PermissionError:
            pass                        # not ours to change (e.g. a config the admin owns)


def load_profile(profile: str | None = None, shield: str | None = None,
                 config: str | os.PathLike | dict | None = None) -> dict:
    """The effective rig profile: rig file + shield pins + the user's overrides + calibration.

    Arguments given here win over the config file's selection.
    """
    user = config if isinstance(config, dict) else read_user_config(config)
    rig = read_profile_file(profile or user.get("profile") or "mini")
    if "motors" not in rig:
        raise ConfigError(f"{rig.get('name')!r} is a shield profile, not a rig profile (try classic or mini)")
    shield_data = read_profile_file(shield or user.get("shield") or rig["shield"])
    if "pins" not in shield_data:
        raise ConfigError(f"{shield_data.get('name')!r} is not a shield profile")
    merged = deep_merge(rig, {"shield": shield_data["name"], "pins": shield_data["pins"]})
    merged = deep_merge(merged, user.get("overrides", {}))
    if user.get("calibration"):
        merged["calibration"] = copy.deepcopy(user["calibration"])
    validate_profile(merged)
    return merged


def validate_profile(p: dict) -> None:
    for motor in ("rotor", "turntable"):
        m = p["motors"].get(motor)
        pins = p.get("pins", {}).get(motor)
        if not m or not pins:
            raise ConfigError(f"profile {p.get('name')!r} lacks the {motor} motor or its pins")
        for key in ("steps_per_rev", "max_speed", "acceleration"):
            if not (isinstance(m.get(key), (int, float)) and m[key] > 0):
                raise ConfigError(f"{motor}.{key} must be a positive number, got {m.get(key)!r}")
    lo, hi = p["motors"]["rotor"].get("min_angle"), p["motors"]["rotor"].get("max_angle")
    if lo is None or hi is None or not lo < hi:
        raise ConfigError(f"rotor range must have min_angle < max_angle, got {lo!r}..{hi!r}")
    if p["geometry"].get("camera_distance_mm", 0) <= 0:
        raise ConfigError("geometry.camera_distance_mm must be positive")
