"""Unpacking the result zip, which comes from a server the rig does not have to trust.

A hostile or broken server must not fill the SD card nor write outside `<scan>/model/`: the
zip's directory is checked against the limits (`cloud.result_limits` in the rig config) and
the free space before a byte is unpacked, the bytes are counted again while unpacking (the
directory may lie), and everything lands in a temp folder next to the model that replaces it
only when complete. Any refusal is an UnpackError, which the queue shows as the upload's error.
"""
from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import settings_from_config
from .client import CloudError

MB = 1_000_000
CHUNK = 1 << 20
RATIO_FLOOR = 32 * MB    # below this the compression ratio is not checked: a small file may squeeze well


class UnpackError(CloudError):
    """The result zip breaks a limit or holds an unsafe name; nothing was unpacked."""


@dataclass(frozen=True)
class UnpackLimits:
    max_bytes: int = 2000 * MB         # the whole model unpacked (a real one is well under 500 MB)
    max_entry_bytes: int = 1000 * MB   # one file of it
    max_entries: int = 1000
    max_ratio: float = 100.0           # unpacked / zip size: textures and meshes squeeze 1-5x, a bomb 1000x
    keep_free_bytes: int = 200 * MB    # what must stay free on the card after unpacking

    @classmethod
    def from_config(cls, values: dict | None) -> "UnpackLimits":
        """From the rig config's `cloud.result_limits` (missing keys keep their default)."""
        return settings_from_config(cls, values, "cloud.result_limits")


def unpack_result(zip_path: Path, target: Path, limits: UnpackLimits = UnpackLimits()) -> Path:
    """Unpack the result zip into `target`, replacing an older model only once all of it is
    there; returns `target`. Raises UnpackError (and leaves the old model) when it does not fit."""
    target, zip_path = Path(target), Path(zip_path)
    tmp = target.with_name(target.name + ".new")     # same filesystem: the rename is atomic
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            entries = zf.infolist()
            check(entries, zip_path.stat().st_size, shutil.disk_usage(target.parent).free, limits)
            tmp.mkdir()
            for info in entries:
                _extract(zf, info, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)       # never a half-unpacked model on the card
        raise
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)
    return target


def check(entries: list[zipfile.ZipInfo], zip_size: int, free: int, limits: UnpackLimits) -> None:
    """Refuse by the zip's directory alone: names, entry count and sizes, ratio, free space."""
    if len(entries) > limits.max_entries:
        raise UnpackError(f"the result zip holds {len(entries)} files, more than the limit of "
                          f"{limits.max_entries} (cloud.result_limits.max_entries)")
    for info in entries:
        safe_name(info.filename)
        if info.file_size > limits.max_entry_bytes:
            raise UnpackError(f"{info.filename} in the result zip unpacks to {_mb(info.file_size)}, more than "
                              f"the limit of {_mb(limits.max_entry_bytes)} (cloud.result_limits.max_entry_bytes)")
    total = sum(info.file_size for info in entries)
    if total > limits.max_bytes:
        raise UnpackError(f"the result zip unpacks to {_mb(total)}, more than the limit of "
                          f"{_mb(limits.max_bytes)} (cloud.result_limits.max_bytes)")
    if total > RATIO_FLOOR and total > limits.max_ratio * max(zip_size, 1):
        raise UnpackError(f"the result zip ({_mb(zip_size)}) unpacks to {_mb(total)}, "
                          f"{total / max(zip_size, 1):.0f} times its size: a zip bomb, not a model "
                          f"(cloud.result_limits.max_ratio is {limits.max_ratio:g})")
    if total + limits.keep_free_bytes > free:
        raise UnpackError(f"the result needs {_mb(total)} but only {_mb(free)} are free on the rig "
                          f"(and {_mb(limits.keep_free_bytes)} must stay free): make room, then retry")


def safe_name(name: str) -> PurePosixPath:
    """The entry's path inside the model folder; refuses absolute paths and `..`."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise UnpackError(f"the result zip holds an unsafe path: {name!r}")
    return path


def _extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    dest = root / safe_name(info.filename)
    if info.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:             # the directory lied about this entry's size
                raise UnpackError(f"{info.filename} in the result zip is larger than its header says")
            out.write(chunk)


def _mb(n: int) -> str:
    return f"{n / MB:.1f} MB"
