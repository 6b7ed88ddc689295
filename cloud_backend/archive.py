"""The uploaded zip: read it across its stored parts without joining them, and check it is what
the protocol promises (images flat at the root) and nothing hostile (traversal, bombs, junk)."""
import bisect
import itertools
import os
import zipfile
from dataclasses import dataclass, field

from openscan_protocol import manifest as scan_manifest
from openscan_protocol import upload as layout_rule
from openscan_protocol.upload import MANIFEST

from . import images
from .storage.base import RandomAccessReader

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


def rules(settings, limit_photos):
    """The limits an upload is checked against: the token's photo limit and the server's."""
    return {"limit_photos": limit_photos, "max_image_bytes": settings["MAX_IMAGE_BYTES"],
            "max_ratio": settings["MAX_COMPRESSION_RATIO"], "max_pixels": settings["MAX_IMAGE_PIXELS"]}


class Upload:
    """An uploaded zip (a path or a seekable file object), opened with the rules every reader of
    it shares (startProject, the job's check and the reconstruction's ingest). Opening checks the central directory only (names,
    counts, declared sizes), before reading any data; ``read``/``chunks`` check each entry's bytes.
    A limit given as None is not checked."""

    def __init__(self, fileobj, limit_photos=None, max_image_bytes=None, max_ratio=None,
                 max_pixels=None):
        self.max_pixels = max_pixels
        declared = _declared_entries(fileobj)
        if limit_photos is not None and declared > 2 * limit_photos + 2:  # photos, masks, masks/, manifest
            raise ArchiveError(f"the zip holds {declared} entries; this token allows at most "
                               f"{limit_photos} images")
        try:
            self.zip = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise ArchiveError(f"the upload is not a readable zip file ({e})") from None
        try:
            try:
                layout = layout_rule.sort_names([i.filename for i in self.zip.infolist()])
            except layout_rule.LayoutError as e:
                raise ArchiveError(str(e)) from None
            by_name = {i.filename: i for i in self.zip.infolist()}
            _check_overlap(by_name.values())
            self.manifest = by_name.get(MANIFEST) if layout.manifest else None
            self.photos = [by_name[n] for n in layout.photos]
            self.masks = [by_name[n] for n in layout.masks]
            self.mask_targets = layout.masks       # mask entry name -> the photo it masks
            # what holds data: the folder entry `masks/` has none and is skipped
            self.entries = self.photos + self.masks + ([self.manifest] if self.manifest else [])
            if not self.photos:
                raise ArchiveError("the zip holds no images (.jpg, .jpeg or .png)")
            if limit_photos is not None and len(self.photos) > limit_photos:
                raise ArchiveError(f"the zip holds {len(self.photos)} images; "
                                   f"this token allows at most {limit_photos}")
            for info in self.entries:
                _check_entry(info, max_image_bytes, max_ratio)
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.zip.close()

    def chunks(self, info):
        """The entry's bytes as checked: for a photo, the header (format, pixel count) before
        any data and nothing after the image's end (a trailer is dropped); a photo that never
        ends is truncated."""
        if info is self.manifest:
            yield _manifest_bytes(self.zip, info)
            return
        stream = _read(self.zip, info)
        head = b""
        for chunk in stream:  # the header: the first MiB holds it (APPn segments are <= 64 KiB)
            head += chunk
            if len(head) >= CHUNK:
                break
        try:
            width, height, data_start = images.header(head)
        except images.ImageError as e:
            raise ArchiveError(f"{info.filename!r} {e}") from None
        if self.max_pixels is not None and width * height > self.max_pixels:
            raise ArchiveError(f"{info.filename!r} is {width}x{height} pixels "
                               f"({width * height / 1e6:.0f} megapixels); at most "
                               f"{self.max_pixels / 1e6:.0f} megapixels per photo")
        if width * height == 0:
            raise ArchiveError(f"{info.filename!r} declares no pixels ({width}x{height})")
        end, sent = images.EndFinder(head, data_start), 0
        for chunk in itertools.chain([head], stream):
            end.feed(chunk)
            if sent < (end.end or end.seen):
                yield chunk[:(end.end or end.seen) - sent]
                sent = end.end or end.seen
        if end.end is None:
            raise ArchiveError(f"{info.filename!r} is truncated (its image data never ends)")

    def read(self, info):
        return b"".join(self.chunks(info))

    def check(self):
        """Read every entry once, in constant memory; returns what the zip holds."""
        for info in self.entries:
            for _ in self.chunks(info):
                pass
        return Contents([i.filename for i in self.photos], self.manifest is not None)


def validate(fileobj, **limits):
    """Check the whole archive (see Upload) by reading every entry once."""
    with Upload(fileobj, **limits) as upload:
        return upload.check()


def _declared_entries(fileobj):
    """The entry count in the zip's end record, read before zipfile parses every entry (100k
    tiny entries take seconds to parse). zipfile's reader of that record is private but has
    been stable since Python 2; 0 when there is no record (ZipFile then says what is wrong)."""
    if isinstance(fileobj, (str, os.PathLike)):
        with open(fileobj, "rb") as f:
            return _declared_entries(f)
    try:
        end = zipfile._EndRecData(fileobj)
        fileobj.seek(0)
    except OSError:
        return 0
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else 0


def _check_overlap(entries):
    # Entries whose data overlap let a small zip expand many times over (a "zip bomb").
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.orig_filename.encode())
                    + i.compress_size) for i in entries)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise ArchiveError("zip entries overlap (a zip bomb)")


def _check_entry(info, max_image_bytes, max_ratio):
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{info.filename!r} is encrypted")
    if info.filename == MANIFEST and info.file_size > MAX_MANIFEST_BYTES:
        raise ArchiveError(f"{MANIFEST} is {info.file_size} bytes; at most {MAX_MANIFEST_BYTES}")
    if max_image_bytes is not None and info.file_size > max_image_bytes:
        raise ArchiveError(f"{info.filename!r} unpacks to {info.file_size} bytes "
                           f"(at most {max_image_bytes} per file)")
    ratio = info.file_size / max(info.compress_size, 1)
    if max_ratio is not None and info.file_size > CHUNK and ratio > max_ratio:
        raise ArchiveError(f"{info.filename!r} is compressed {int(ratio)} times over; "
                           "that is a zip bomb, not a photo")


def _read(archive, info):
    """Yield the entry's bytes; zipfile stops at the declared size and checks the CRC."""
    try:
        with archive.open(info) as f:
            while chunk := f.read(CHUNK):
                yield chunk
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as e:
        raise ArchiveError(f"{info.filename!r} is damaged in the zip ({e})") from None


def _manifest_bytes(archive, info):
    data = b"".join(_read(archive, info))
    try:
        scan_manifest.loads(data)
    except scan_manifest.ManifestError as e:
        raise ArchiveError(f"{MANIFEST} is not a JSON object ({e})") from None
    return data
