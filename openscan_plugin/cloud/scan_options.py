"""A scan's cloud options (quality, texture, masking, objecttype, formats, notify, webhook,
consent): the one place on the rig that checks them, merges them over the rig-wide defaults and
turns them into createProject (and rerunProject) query parameters. Names, values and defaults come from
openscan_protocol.options, so the rig offers exactly what the server accepts.

A scan's options are a plain dict with every key (`resolve`); the queue stores it as JSON with
the entry, and the client sends only what differs from the protocol defaults (an old server
sees the request it always saw).
"""
from __future__ import annotations

from typing import Mapping, Optional

from openscan_protocol import options as protocol
from openscan_protocol.options import ALL_FORMATS, DEFAULTS, MASKING, OBJECTTYPE, QUALITY

from .upload_queue import QueueError

CHOICES = {"quality": QUALITY, "masking": MASKING, "objecttype": OBJECTTYPE}
BOOLEANS = ("texture", "notify", "consent")
KEYS = tuple(DEFAULTS)
CONSENT_TEXT = ("Allow OpenScan to keep this scan's photos and model for research; without it the "
                "photos are deleted once your model is delivered.")
TRUE, FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


class OptionsError(QueueError):
    """A value the contract does not accept (the web API answers 400, the CLI one line)."""


def defaults() -> dict:
    return {k: (list(v) if k == "formats" else v) for k, v in DEFAULTS.items()}


def check(values: Optional[Mapping], *, where: str = "") -> dict:
    """The given options, each checked and normalised (formats as a list in the contract's
    order); unknown names are refused, so a typo never silently becomes a default."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise OptionsError(f"{where}unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"known: {', '.join(KEYS)}")
    return {k: _value(k, v, where) for k, v in values.items()}


def resolve(base: Optional[Mapping] = None, overrides: Optional[Mapping] = None) -> dict:
    """Every option: the protocol defaults, then `base` (the rig-wide defaults), then
    `overrides` (this scan's choices; None values mean "not chosen")."""
    out = defaults()
    out.update(check(base, where="rig default: "))
    out.update(check({k: v for k, v in (overrides or {}).items() if v is not None}))
    return out


def to_params(options: Optional[Mapping]) -> dict[str, str]:
    """createProject's extra query parameters: only the options that differ from the protocol
    defaults, booleans as true/false, formats comma-separated."""
    return {k: v for k, v in encode(options).items() if v != _param(k, _value(k, DEFAULTS[k], ""))}


def encode(options: Optional[Mapping]) -> dict[str, str]:
    """Every given option as a query parameter, defaults too: rerunProject replaces exactly
    the options it is sent, so going back to a default must be said."""
    return {k: _param(k, v) for k, v in check(options).items()}


def _param(key: str, value) -> str:
    if key in BOOLEANS:
        return "true" if value else "false"
    if key == "formats":
        return ",".join(value)
    return str(value)


def describe(options: Optional[Mapping]) -> str:
    """A short line of the non-default choices, e.g. `quality=high, texture=false`."""
    params = to_params(options)
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "defaults"


def _value(key: str, value, where: str):
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise OptionsError(f"{where}{key} must be one of {', '.join(CHOICES[key])}, not {value!r}")
        return value
    if key in BOOLEANS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
            return value.strip().lower() in TRUE
        raise OptionsError(f"{where}{key} must be true or false, not {value!r}")
    if key == "formats":
        return parse_formats(value, where)
    if key == "webhook":
        return check_webhook(value, where)
    raise OptionsError(f"{where}unknown option {key}")   # pragma: no cover (check() refuses first)


def parse_formats(value, where: str = "") -> list[str]:
    """'obj,glb' or ['obj', 'glb'] -> ['obj', 'glb'] in the contract's order; at least one."""
    try:
        items = protocol.parse_formats(value)
    except ValueError as exc:
        raise OptionsError(f"{where}formats: {exc}") from None
    return [f for f in ALL_FORMATS if f in items]


def check_webhook(value, where: str = "") -> str:
    """'' (none) or an http(s) URL with a host."""
    try:
        return protocol.parse_webhook(value)
    except ValueError as exc:
        raise OptionsError(f"{where}webhook {exc}") from None
