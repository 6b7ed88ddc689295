"""Where each member of a scan's stored zip lies, so a part can start reading at the member it
begins in instead of regenerating the stream from byte 0 (part k of a 2 GB scan would read
k x 200 MB from the SD card first, again on every retry).

The stream is zipstream-ng's (ZIP_STORED, sized). A member's bytes - local header, data, data
descriptor - do not depend on where the member lies, so they are zipstream-ng's own output for
that member alone. Only the central directory at the end needs every member's offset and CRC;
it is built from zipstream-ng's own records, filled with the CRCs the upload learnt (each
member's data descriptor carries its CRC) or, for the few it did not, read from the files.
tests/rig_upload/test_package_ranges.py checks the result byte for byte against the whole stream.
"""
from __future__ import annotations

import os
import struct
import zlib
from itertools import accumulate
from pathlib import Path
from typing import Iterator

from zipstream import ZIP_STORED, ZipStream
from zipstream.ng import ZIP64_ESTIMATE_FACTOR, ZIP64_LIMIT, ZipStreamInfo

LOCAL_HEADER = 30
DATA_DESCRIPTOR_FLAG = 0x08


def _zip64(size: int) -> bool:
    return size * ZIP64_ESTIMATE_FACTOR > ZIP64_LIMIT      # zipstream-ng's own estimate


def _name_bytes(name: str) -> int:
    try:
        return len(name.encode("ascii"))
    except UnicodeEncodeError:
        return len(name.encode("utf-8"))


def section_length(name: str, size: int) -> int:
    """Local header + data + data descriptor of one stored member."""
    zip64 = _zip64(size)
    return LOCAL_HEADER + _name_bytes(name) + (20 if zip64 else 0) + size + (24 if zip64 else 16)


def member_offsets(members) -> list[int]:
    """Offsets of each member's local header, then the central directory's."""
    return list(accumulate((section_length(m.name, m.size) for m in members), initial=0))


def member_stream(path: Path, name: str) -> Iterator[bytes]:
    """One member's section, as zipstream-ng writes it inside any stream."""
    zs = ZipStream(compress_type=ZIP_STORED, sized=True)
    zs.add_path(os.fspath(path), name)
    left = section_length(name, (Path(path)).stat().st_size)
    for chunk in zs:
        if left <= 0:
            return
        yield chunk[:left]
        left -= len(chunk[:left])


def crc_of_section_end(tail: bytes, size: int) -> int:
    """The CRC in a member's data descriptor (the last bytes of its section)."""
    return struct.unpack_from("<L", tail, len(tail) - (24 if _zip64(size) else 16) + 4)[0]


def file_crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            crc = zlib.crc32(block, crc)
    return crc & 0xFFFFFFFF


def central_directory(folder: Path, members, crcs: dict) -> bytes:
    """The central directory and end records of the stream, from zipstream-ng's own records."""
    offsets = member_offsets(members)
    records = []
    for m, offset in zip(members, offsets):
        info = ZipStreamInfo.from_file(os.fspath(folder / m.name), m.name)
        info.compress_type, info._compresslevel = ZIP_STORED, None
        info.flag_bits |= DATA_DESCRIPTOR_FLAG
        info.FileHeader(_zip64(m.size))          # sets the versions as streaming the member does
        info.header_offset = offset
        info.CRC, info.file_size, info.compress_size = crcs[m.name], m.size, m.size
        records.append(info)
    zs = ZipStream(compress_type=ZIP_STORED)
    zs._filelist, zs._pos = records, offsets[-1]     # what streaming every member leaves behind
    return b"".join(zs.footer())
