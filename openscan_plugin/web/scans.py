"""The scans on the rig: the folders under the scans dir that hold photos, and the photo sets
OpenScan2's firmware stores there as one zip each (`<date>_<time>-<name>.zip`)."""
from __future__ import annotations

import os
import time
from pathlib import Path

from openscan_protocol import manifest as scan_manifest
from openscan_protocol import result
from openscan_protocol.upload import PHOTO_SUFFIXES

from ..cloud.package import PackageError, is_zip_set, zip_photos
from ..cloud.uploader import MODEL_DIR, result_home


def scan_info(folder: Path) -> dict | None:
    """Photos, bytes, date and rig status of one folder; None if it holds no photos."""
    photos, size = 0, 0
    with os.scandir(folder) as it:
        for f in it:
            if f.is_file() and f.name.lower().endswith(PHOTO_SUFFIXES):
                photos += 1
                size += f.stat().st_size
    if not photos:
        return None
    status, created = None, folder.stat().st_mtime
    try:
        status = (scan_manifest.read(folder) or {}).get("status")
    except scan_manifest.ManifestError:
        status = "unreadable manifest"
    return {"name": folder.name, "folder": str(folder), "photos": photos, "size": size,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(created)), "mtime": created,
            "scan_status": status or "photos", **model_files(folder)}


MODEL_VIEWS = {"preview": result.PREVIEW, "glb": result.GLB, "obj": result.OBJ, "stl": result.STL,
               "report": result.REPORT_HTML}


def model_files(folder: Path) -> dict:
    """The unpacked model's files the pages show, by role: the file name (under
    `scans/<name>/model/`) where the folder holds it, else None. A few stats, no photo scan (the
    scan page asks on every status push); the pages take the names from here."""
    model = result_home(folder) / MODEL_DIR
    return {role: name if (model / name).is_file() else None for role, name in MODEL_VIEWS.items()}


def zip_set_info(path: Path) -> dict:
    """The same for a set stored as one zip; `scan_status` says why it cannot be sent."""
    st = path.stat()
    try:
        photos, status = zip_photos(path), "photos"
    except PackageError as exc:
        photos, status = 0, str(exc)
    return {"name": path.name, "folder": str(path), "photos": photos, "size": st.st_size,
            "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime)), "mtime": st.st_mtime,
            "scan_status": status, **model_files(path)}


def list_scans(scans_dir: Path) -> list[dict]:
    """Newest first."""
    if not scans_dir.is_dir():
        return []
    found = []
    for d in scans_dir.iterdir():
        if d.name.startswith("."):
            continue
        if d.is_dir():
            info = scan_info(d)
            if info:
                found.append(info)
        elif is_zip_set(d):
            found.append(zip_set_info(d))
    return sorted(found, key=lambda s: s["mtime"], reverse=True)


def scan_folder(scans_dir: Path, name: str) -> Path | None:
    """The folder (or zip set) of scan `name`, refusing anything that is not a direct child of
    scans_dir."""
    if not name or "/" in name or name.startswith("."):
        return None
    folder = scans_dir / name
    return folder if folder.is_dir() or is_zip_set(folder) else None
