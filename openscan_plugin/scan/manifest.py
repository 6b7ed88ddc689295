"""manifest.json: the scan folder's contract with the backend (schema: docs/manifest.md).

The manifest is rewritten atomically (openscan_protocol.atomic) after every photo, so after
a power cut it always describes exactly the photos that are complete. Its name, schema and
the backend's reading of it live in openscan_protocol.manifest.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from openscan_protocol import manifest as protocol
from openscan_protocol.atomic import write_atomically
from openscan_protocol.manifest import FILENAME, SCHEMA, SCHEMA_VERSION

from .. import __version__


class ManifestError(ValueError):
    pass


def photo_name(index: int, stack: int = 0, stack_size: int = 1) -> str:
    """Deterministic file name per (point, focus-stack slot): a re-shot photo replaces itself."""
    return f"scan_{index:04d}.jpg" if stack_size == 1 else f"scan_{index:04d}_f{stack}.jpg"


class Manifest:
    def __init__(self, folder: Path, data: dict):
        self.folder, self.data = Path(folder), data

    @property
    def path(self) -> Path:
        return self.folder / FILENAME

    @classmethod
    def create(cls, folder, *, profile: dict, camera: dict, plan: dict, intrinsics: dict | None = None,
               name: str | None = None) -> "Manifest":
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / FILENAME).exists():
            raise ManifestError(f"{folder} already holds a scan; use --resume or another folder")
        data = {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "software": {"name": "openscan_plugin", "version": __version__},
            "name": name or folder.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": protocol.SCANNING,
            "rig": {
                "profile": profile.get("name"),
                "shield": profile.get("shield"),
                "motors": {m: {k: profile["motors"][m].get(k) for k in
                               ("steps_per_rev", "min_angle", "max_angle", "max_speed", "acceleration")}
                           for m in ("rotor", "turntable")},
            },
            "geometry": {
                "frame": "turntable",
                "units": "mm",
                "angle_convention": "openscan-v1",
                **profile["geometry"],
            },
            "camera": camera,
            "intrinsics": intrinsics,
            "plan": plan,
            "photos": [],
        }
        m = cls(folder, data)
        m.save()
        return m

    @classmethod
    def load(cls, folder) -> "Manifest":
        path = Path(folder) / FILENAME
        if not path.exists():
            raise ManifestError(f"no {FILENAME} in {folder}: nothing to resume")
        try:
            data = protocol.loads(path.read_bytes())
        except protocol.ManifestError as exc:
            raise ManifestError(f"{path}: {exc}") from None
        if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
            raise ManifestError(f"{path}: unsupported schema {data.get('schema')} v{data.get('schema_version')}")
        return cls(Path(folder), data)

    def save(self) -> None:
        write_atomically(self.path, json.dumps(self.data, indent=1))

    @property
    def photos(self) -> list:
        return self.data["photos"]

    def done_keys(self) -> set:
        return {(p["index"], p["stack"]) for p in self.photos}

    def add_photo(self, record: dict) -> None:
        """Append one complete photo (its file is already on disk) and persist."""
        key = (record["index"], record["stack"])
        if key in self.done_keys():
            raise ManifestError(f"photo {key} is already in the manifest")
        self.photos.append(record)
        self.save()

    def set_status(self, status: str) -> None:
        self.data["status"] = status
        self.save()
