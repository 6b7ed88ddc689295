"""The uploaded zip: read it across its stored parts without joining them, and check it is what
the protocol promises (images flat at the root) and nothing hostile (traversal, bombs, junk)."""
import bisect
import itertools
import json
import zipfile
from dataclasses import dataclass, field

from .storage.base import RandomAccessReader

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MANIFEST = "manifest.json"  # the rig's scan metadata, sent beside the photos
CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 16 << 20


class ArchiveError(ValueError):
    """The zip is unusable; the message names the problem and the entry."""


class PartsReader(RandomAccessReader):
    """One seekable, read-only stream over blobs stored one after another (the parts)."""

    def __init__(self, store, keys):
        self._store, self._keys = store, list(keys)
        self._sizes = [store.size(k) for k in self._keys]
        if None in self._sizes:
            raise FileNotFoundError(self._keys[self._sizes.index(None)])
        self._starts = list(itertools.accumulate(self._sizes[:-1], initial=0))
        self._open = {}
        super().__init__(sum(self._sizes))

    def readinto(self, buffer):
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self.pos < self.length:
            i = bisect.bisect_right(self._starts, self.pos) - 1
            f = self._part(i)
            f.seek(self.pos - self._starts[i])
            n = f.readinto(view[done:done + self._starts[i] + self._sizes[i] - self.pos])
            if not n:
                raise IOError(f"part {i} is shorter than recorded")
            done += n
            self.pos += n
        return done

    def _part(self, i):
        if i not in self._open:
            self._open[i] = self._store.open(self._keys[i])
        return self._open[i]

    def close(self):
        for f in self._open.values():
            f.close()
        self._open.clear()
        super().close()


@dataclass
class Contents:
    images: list = field(default_factory=list)
    manifest: bool = False


def validate(fileobj, limit_photos, max_image_bytes, max_ratio):
    """Check the whole archive by reading every entry once, in constant memory."""
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ArchiveError(f"the upload is not a readable zip file ({e})") from None
    with archive:
        entries = archive.infolist()
        _check_layout(entries)
        contents = Contents()
        for info in entries:
            _check_entry(info, max_image_bytes, max_ratio)
            if info.filename == MANIFEST:
                _check_manifest(archive, info)
                contents.manifest = True
            else:
                _check_image(archive, info)
                contents.images.append(info.filename)
    if not contents.images:
        raise ArchiveError("the zip holds no images (.jpg, .jpeg or .png)")
    if len(contents.images) > limit_photos:
        raise ArchiveError(f"the zip holds {len(contents.images)} images; "
                           f"this token allows at most {limit_photos}")
    return contents


def _check_layout(entries):
    names = set()
    for info in entries:
        name = info.filename
        if name.startswith("/") or "\\" in name or ".." in name.split("/") or ":" in name:
            raise ArchiveError(f"unsafe path in zip: {name!r}")
        if "/" in name:
            raise ArchiveError(f"images must lie flat at the root of the zip, not in folders: {name!r}")
        if name in names:
            raise ArchiveError(f"the zip holds {name!r} twice")
        names.add(name)
        if name != MANIFEST and not name.lower().endswith(IMAGE_SUFFIXES):
            raise ArchiveError(f"only .jpg, .jpeg and .png images are accepted, not {name!r}")
    # Entries whose data overlap let a small zip expand many times over (a "zip bomb").
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.orig_filename.encode())
                    + i.compress_size) for i in entries)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise ArchiveError("zip entries overlap (a zip bomb)")


def _check_entry(info, max_image_bytes, max_ratio):
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{info.filename!r} is encrypted")
    if info.file_size > max_image_bytes:
        raise ArchiveError(f"{info.filename!r} unpacks to {info.file_size} bytes "
                           f"(at most {max_image_bytes} per file)")
    if info.file_size > CHUNK and info.file_size > max_ratio * max(info.compress_size, 1):
        raise ArchiveError(f"{info.filename!r} is compressed {info.file_size // max(info.compress_size, 1)}"
                           " times over; that is a zip bomb, not a photo")


def _read(archive, info):
    """Yield the entry's bytes; zipfile stops at the declared size and checks the CRC."""
    try:
        with archive.open(info) as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ArchiveError(f"{info.filename!r} is damaged in the zip ({e})") from None


def _check_image(archive, info):
    head, tail = b"", b""
    for chunk in _read(archive, info):
        head = head or chunk[:16]
        tail = (tail + chunk[-1024:])[-1024:]
    if head.startswith(b"\xff\xd8\xff"):
        complete = b"\xff\xd9" in tail  # JPEG end-of-image marker (cameras may pad after it)
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        complete = b"IEND" in tail[-12:]
    else:
        raise ArchiveError(f"{info.filename!r} is not a JPEG or PNG image")
    if not complete:
        raise ArchiveError(f"{info.filename!r} is truncated")


def _check_manifest(archive, info):
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{MANIFEST} is {info.file_size} bytes; at most {MAX_MANIFEST_BYTES}")
    data = b"".join(_read(archive, info))
    try:
        if not isinstance(json.loads(data), dict):
            raise ValueError("not an object")
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deeply to parse
        raise ArchiveError(f"{MANIFEST} is not a JSON object ({e})") from None
