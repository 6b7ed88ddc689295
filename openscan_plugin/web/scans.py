"""The scans on the rig: the folders under the scans dir that hold photos."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..cloud.package import IMAGE_SUFFIXES, MANIFEST
from ..cloud.worker import MODEL_DIR


def scan_info(folder: Path) -> dict | None:
    """Photos, bytes, date and rig status of one folder; None if it holds no photos."""
    photos, size = 0, 0
    with os.scandir(folder) as it:
        for f in it:
            if f.is_file() and f.name.lower().endswith(IMAGE_SUFFIXES):
                photos += 1
                size += f.stat().st_size
    if not photos:
        return None
    manifest, status, created = folder / MANIFEST, None, folder.stat().st_mtime
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            status = data.get("status")
        except (OSError, ValueError):
            status = "unreadable manifest"
    return {"name": folder.name, "folder": str(folder), "photos": photos, "size": size,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(created)), "mtime": created,
            "scan_status": status or "photos", **model_files(folder)}


def model_files(folder: Path) -> dict:
    """Which files of the unpacked model the folder holds: three stats, no photo scan (the
    scan page asks on every status push)."""
    model = folder / MODEL_DIR
    return {"preview": (model / "preview.png").is_file(),
            "glb": (model / "model.glb").is_file(),
            "obj": (model / "model.obj").is_file()}


def list_scans(scans_dir: Path) -> list[dict]:
    """Newest first."""
    if not scans_dir.is_dir():
        return []
    found = []
    for d in scans_dir.iterdir():
        if d.is_dir() and not d.name.startswith("."):
            info = scan_info(d)
            if info:
                found.append(info)
    return sorted(found, key=lambda s: s["mtime"], reverse=True)


def scan_folder(scans_dir: Path, name: str) -> Path | None:
    """The folder of scan `name`, refusing anything that is not a direct child of scans_dir."""
    if not name or "/" in name or name.startswith("."):
        return None
    folder = scans_dir / name
    return folder if folder.is_dir() else None
