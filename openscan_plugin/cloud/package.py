"""A scan folder as one STORED zip stream, sliced into protocol parts without touching the disk.

zipstream-ng computes the exact zip size from the file sizes before the first byte is produced
and streams the members from disk, so memory stays constant and no temporary zip is needed
(the Pi's /tmp is often too small). The stream is deterministic for unchanged files (entry
dates come from the files' mtimes), so any part's bytes can be produced again for a retry,
starting at the member the part begins in (zip_layout): the member list is snapshotted when
the upload is queued and checked before every regeneration, so a changed folder is detected
instead of silently producing a different zip.
"""
from __future__ import annotations

import bisect
import math
import os
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterator, Optional

from zipstream import ZIP_STORED, ZipStream

from openscan_protocol import manifest as scan_manifest
from openscan_protocol.upload import MANIFEST, PART_SIZE, PHOTO_SUFFIXES

from . import zip_layout


class PackageError(ValueError):
    """The folder cannot be sent (no photos, scan unfinished, files changed since queueing)."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    mtime_ns: int
    crc: Optional[int] = None    # learnt while uploading: the zip's last part needs every one


def scan_members(folder: Path) -> list[Member]:
    """Photos flat at the folder's top level (+ manifest.json). With a rig manifest, only the
    photos it lists: those are complete on disk (a half-written photo is never listed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PackageError(f"{folder} is not a folder")
    names = sorted(p.name for p in folder.iterdir()
                   if p.is_file() and p.name.lower().endswith(PHOTO_SUFFIXES))
    try:
        data = scan_manifest.read(folder)
    except scan_manifest.ManifestError as exc:
        raise PackageError(f"{folder / MANIFEST}: unreadable ({exc})") from None
    if data is not None:
        if data.get("status") == scan_manifest.SCANNING:
            raise PackageError(f"{folder}: the scan is not finished (status 'scanning'); finish it "
                               "with `openscan scan --resume` first")
        listed = set(scan_manifest.photo_files(data))
        if listed:
            names = [n for n in names if n in listed]
        names.append(MANIFEST)
    if not any(n != MANIFEST for n in names):
        raise PackageError(f"{folder}: no .jpg/.jpeg/.png photos at the top level")
    members = []
    for n in names:
        st = (folder / n).stat()
        members.append(Member(n, st.st_size, st.st_mtime_ns))
    return members


class ScanPackage:
    """The zip of one scan folder: its size, its parts, and the bytes of any byte range."""

    def __init__(self, folder, members: list[Member], part_size: int = PART_SIZE):
        self.folder, self.members, self.part_size = Path(folder), list(members), int(part_size)
        self.size = len(self._stream(check=False))

    @classmethod
    def from_folder(cls, folder, part_size: int = PART_SIZE) -> "ScanPackage":
        if is_zip_set(folder):
            return ZipSetPackage(folder, [zip_member(folder)], part_size)
        return cls(folder, scan_members(folder), part_size)

    @classmethod
    def from_snapshot(cls, folder, snapshot: list[dict], part_size: int = PART_SIZE) -> "ScanPackage":
        kind = ZipSetPackage if is_zip_set(folder) else cls
        return kind(folder, [Member(**m) for m in snapshot], part_size)

    def snapshot(self) -> list[dict]:
        """The members as queued, with the CRCs learnt so far (kept in the queue, so the last
        part after a restart does not read the whole scan again)."""
        return [asdict(m) for m in self.members]

    @property
    def photos(self) -> int:
        return sum(1 for m in self.members if m.name != MANIFEST)

    @property
    def parts(self) -> int:
        return max(1, math.ceil(self.size / self.part_size))

    def part_range(self, index: int) -> tuple[int, int]:
        start = index * self.part_size
        return start, min(start + self.part_size, self.size)

    def part_length(self, index: int) -> int:
        start, end = self.part_range(index)
        return end - start

    def check_unchanged(self) -> None:
        for m in self.members:
            try:
                st = (self.folder / m.name).stat()
            except FileNotFoundError:
                raise PackageError(f"{m.name} was removed from {self.folder} after queueing") from None
            if (st.st_size, st.st_mtime_ns) != (m.size, m.mtime_ns):
                raise PackageError(f"{m.name} in {self.folder} changed after queueing; "
                                   "reset the upload to send the folder as it is now")

    def _stream(self, check: bool = True) -> ZipStream:
        if check:
            self.check_unchanged()
        zs = ZipStream(compress_type=ZIP_STORED, sized=True)
        for m in self.members:
            zs.add_path(os.fspath(self.folder / m.name), m.name)
        return zs

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """The zip's bytes [start, end), in chunks of at most ~1 MiB, read from the member
        `start` falls in onwards."""
        self.check_unchanged()
        offsets = zip_layout.member_offsets(self.members)
        index = bisect.bisect_right(offsets, start) - 1
        while index < len(self.members) and offsets[index] < end:
            yield from self._member_range(index, offsets[index], start, end)
            index += 1
        if end > offsets[-1]:
            directory = zip_layout.central_directory(self.folder, self.members, self._crcs())
            yield directory[max(start - offsets[-1], 0):end - offsets[-1]]

    def _member_range(self, index: int, at: int, start: int, end: int) -> Iterator[bytes]:
        m, tail = self.members[index], b""
        for chunk in zip_layout.member_stream(self.folder / m.name, m.name):
            n = len(chunk)
            if at + n > start:
                yield bytes(chunk[max(start - at, 0):min(end - at, n)])
            at += n
            tail = (tail + bytes(chunk[-24:]))[-24:]
            if at >= end:
                break
        else:   # the whole member went by: its data descriptor holds the CRC
            self.members[index] = replace(m, crc=zip_layout.crc_of_section_end(tail, m.size))

    def _crcs(self) -> dict:
        """Every member's CRC; the ones no upload has seen yet are read from the files."""
        for i, m in enumerate(self.members):
            if m.crc is None:
                self.members[i] = replace(m, crc=zip_layout.file_crc(self.folder / m.name))
        return {m.name: m.crc for m in self.members}

    def iter_part(self, index: int, offset: int = 0) -> Iterator[bytes]:
        start, end = self.part_range(index)
        return self.iter_range(start + offset, end)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._stream())


# -- photo sets stored as one zip (OpenScan2 writes <scans>/<date>_<time>-<name>.zip) -----------

def is_zip_set(path) -> bool:
    return str(path).lower().endswith(".zip") and Path(path).is_file()


def zip_photos(path: Path) -> int:
    """The photos in a zip set, which must lie flat at its root as the server wants them:
    OpenScan2 puts focus stacks in sub-folders when 'group stack photos' is on."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackageError(f"{path.name}: not a readable zip ({exc})") from None
    nested = [n for n in names if "/" in n]
    if nested:
        raise PackageError(f"{path.name}: photos in folders ({nested[0]}); the cloud wants them flat "
                           "(turn off OpenScan2's 'group stack photos' for the next scans)")
    photos = sum(1 for n in names if n.lower().endswith(PHOTO_SUFFIXES))
    if not photos:
        raise PackageError(f"{path.name}: no .jpg/.jpeg/.png photos in the zip")
    return photos


def zip_member(path) -> Member:
    path = Path(path)
    zip_photos(path)
    st = path.stat()
    return Member(path.name, st.st_size, st.st_mtime_ns)


class ZipSetPackage(ScanPackage):
    """A zip the firmware already wrote is sent as it is: its bytes are the upload."""

    def __init__(self, path, members: list[Member], part_size: int = PART_SIZE):
        self.folder, self.members, self.part_size = Path(path), list(members), int(part_size)
        self.size = self.members[0].size
        self._photos = None

    @property
    def photos(self) -> int:
        if self._photos is None:
            self._photos = zip_photos(self.folder)
        return self._photos

    def check_unchanged(self) -> None:
        m = self.members[0]
        try:
            st = self.folder.stat()
        except FileNotFoundError:
            raise PackageError(f"{self.folder} was removed after queueing") from None
        if (st.st_size, st.st_mtime_ns) != (m.size, m.mtime_ns):
            raise PackageError(f"{self.folder} changed after queueing; "
                               "reset the upload to send it as it is now")

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        self.check_unchanged()
        with open(self.folder, "rb") as f:
            f.seek(start)
            while start < end:
                chunk = f.read(min(1 << 20, end - start))
                if not chunk:
                    raise PackageError(f"{self.folder} is shorter than when it was queued")
                start += len(chunk)
                yield chunk

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_range(0, self.size)
