"""Limits checked before the bytes they guard are read: entry counts from the zip's end record,
pixel counts from each image's header. And what only the job's full check finds reaches the
user as `processing failed` with the reason."""
import io
import struct
import time
import zipfile
import zlib

import pytest
from PIL import Image

from cloud_backend import archive

from ..backend.conftest import start_server  # noqa: F401 (the fixture)
from ..backend.helpers import Client, jpeg_bytes
from ..backend.test_jobs import PIPELINE, done, watch

LIMITS = dict(limit_photos=1000, max_image_bytes=200_000_000, max_ratio=20, max_pixels=120_000_000)


def zip_of(entries):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return out.getvalue()


def png_of_144_megapixels():
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, "PNG")  # 1 bit per pixel: compresses to nothing
    return out.getvalue()


def jpeg_declaring(width, height):
    """A real small JPEG whose frame header claims another size."""
    data = bytearray(jpeg_bytes(1))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


class CountingReader(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n=-1):
        data = super().read(n)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer):
        n = super().readinto(buffer)
        self.bytes_read += n
        return n


@pytest.mark.parametrize("name, image", [("huge.png", png_of_144_megapixels()),
                                         ("huge.jpg", jpeg_declaring(16_000, 9_000))])
def test_photo_declaring_too_many_pixels_is_refused_from_its_header(name, image):
    assert len(image) < 500_000  # small on disk; 144 MB and more once decoded
    upload = zip_of([("a.jpg", jpeg_bytes(2)), (name, image)])
    with pytest.raises(archive.ArchiveError, match=r"\(144 megapixels\); at most 120"):
        archive.validate(io.BytesIO(upload), **LIMITS)
    # the limit is a setting (MAX_IMAGE_PIXELS): a server that allows more accepts it
    archive.validate(io.BytesIO(upload), **{**LIMITS, "max_pixels": 150_000_000})


def many_tiny_entries(n):
    """A zip of ``n`` 4-byte JPEG-looking entries, written directly (zipfile takes ~7 s)."""
    data = b"\xff\xd8\xff\xd9"
    crc, local, central = zlib.crc32(data), bytearray(), bytearray()
    for i in range(n):
        name = f"{i}.jpg".encode()
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, 4, 4,
                               len(name), 0, 0, 0, 0, 0, len(local)) + name
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, 4, 4, len(name), 0)
        local += name + data
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), len(local), 0)
    return bytes(local + central + end)


def test_zip_of_many_tiny_entries_is_refused_from_its_end_record():
    upload = CountingReader(many_tiny_entries(60_000))
    assert len(zipfile.ZipFile(io.BytesIO(upload.getvalue())).infolist()) == 60_000  # a real zip
    started = time.monotonic()
    with pytest.raises(archive.ArchiveError, match="60000 entries; .* at most 1000 images"):
        archive.validate(upload, **LIMITS)
    print(f"refused in {time.monotonic() - started:.4f} s after reading {upload.bytes_read} bytes")
    assert upload.bytes_read < 70_000  # the end record's search window, not the 1.6 MB directory


def with_trailer(photo):
    """What phones append after the JPEG end marker (a motion photo's video, maker notes):
    4 KiB here, with an end marker of its own near its start, none near the file's end."""
    return photo + b"\x00\x00\x00\x18ftypmp42\xff\xd9" + bytes(range(256)) * 15 + b"\0" * 242


def test_jpeg_and_png_trailers_are_not_truncation():
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    contents = archive.validate(io.BytesIO(zip_of([
        ("a.jpg", with_trailer(jpeg_bytes(1))), ("b.png", png.getvalue() + b"trailer")])), **LIMITS)
    assert contents.images == ["a.jpg", "b.png"]
    with archive.Upload(io.BytesIO(zip_of([("a.jpg", with_trailer(jpeg_bytes(1)))]))) as upload:
        assert upload.read(upload.photos[0]) == jpeg_bytes(1)  # the photo, without its trailer


def test_start_project_answers_at_once_and_the_job_check_reaches_the_user(start_server):  # noqa: F811
    """startProject checks the zip's directory; what only its bytes show (a photo's header)
    fails the job, with the reason, and a photo with a trailer goes through."""
    server = start_server(PIPELINE)
    client = Client(server.url, server.token())
    photos = [(f"IMG_{i}.jpg", jpeg_bytes(i)) for i in range(3)]
    motion = zip_of([("IMG_motion.jpg", with_trailer(jpeg_bytes(9))), *photos])
    bomb = zip_of([("huge.png", png_of_144_megapixels()), *photos])
    for name, data in (("motion.zip", motion), ("pixels.zip", bomb)):
        assert client.upload_all(name, data, 200_000_000, photos=4).status_code == 200
    assert watch(client, "motion.zip", done)[-1]["status"] == "processing done"
    failed = watch(client, "pixels.zip", done)[-1]
    assert failed["status"] == "processing failed"
    assert "'huge.png' is 12000x12000 pixels (144 megapixels" in failed["error"]
