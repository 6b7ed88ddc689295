"""The camera interface the scan routine talks to (picamera2 on a Pi, a renderer in simulation)."""
from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Optional


@dataclass
class CameraSettings:
    """Manual settings for photogrammetry: fixed exposure, gain and white balance."""
    exposure_us: int = 50000
    analogue_gain: float = 1.0
    colour_gains: Optional[tuple] = (2.0, 1.7)   # (red, blue); None = auto white balance
    jpeg_quality: int = 92
    autofocus: bool = True
    lens_position: Optional[float] = None          # dioptres; None = leave to autofocus
    focus_stack: int = 1                           # photos per position
    focus_stack_step: float = 0.5                  # dioptres between stacked photos
    resolution: Optional[tuple] = None             # None = full sensor

    @classmethod
    def from_profile(cls, cam: dict) -> "CameraSettings":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in cam.items() if k in known}
        for key in ("colour_gains", "resolution"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Capture:
    """What a capture wrote: the file and the camera's metadata for it."""
    path: str
    metadata: dict = field(default_factory=dict)


class Camera(abc.ABC):
    """A still camera for scanning. Implementations: Picamera2Camera, SimulatedCamera."""

    model: str = "unknown"

    @property
    @abc.abstractmethod
    def resolution(self) -> tuple:
        """(width, height) of captured photos."""

    @property
    def has_autofocus(self) -> bool:
        return False

    @abc.abstractmethod
    def apply(self, settings: CameraSettings) -> None:
        """Set exposure, gain, white balance, quality and focus mode."""

    @abc.abstractmethod
    def capture(self, path: str) -> Capture:
        """Take one photo, write it as JPEG to `path`, return its metadata."""

    @abc.abstractmethod
    def preview(self):
        """A small RGB frame (numpy HxWx3 uint8) for framing the object."""

    def autofocus(self) -> Optional[float]:
        """Run one autofocus cycle; return the lens position found (None if fixed focus)."""
        return None

    def set_lens_position(self, dioptres: float) -> None:
        """Move the lens (manual focus); ignored by fixed-focus cameras."""

    @property
    def lens_position(self) -> Optional[float]:
        return None

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
