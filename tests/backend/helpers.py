"""Building blocks for backend tests: real zips of real images, and a field client's moves."""
import io
import math
import random
import zipfile

import requests
from PIL import Image

from cloud_backend import config, images
from cloud_backend.db import Database

AUTH = ("openscan", "free")


def migrated_app(overrides):
    """The API app on a database that `openscan-cloud migrate` has set up, as deployed."""
    from cloud_backend.api import create_app
    Database(config.load(overrides)["DATABASE_URL"]).upgrade()
    return create_app(overrides)


def jpeg_bytes(seed, size=(64, 48), quality=90):
    """A real JPEG of noise (different for every seed)."""
    img = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_head(seed=0):
    """A real JPEG's header up to its image data: random bytes and b"\\xff\\xd9" after it make a
    file the backend's checks take for a photo (64x48), without an encoder's time."""
    real = jpeg_bytes(seed)
    return real[:images.header(real)[2]]


def png_bytes(seed, size=(32, 32)):
    img = Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def make_zip(path, photos=3, extra=(), compression=zipfile.ZIP_STORED, size=(64, 48)):
    """A zip as the rigs send it: images flat at the root. ``extra`` adds (name, bytes) entries."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for i in range(photos):
            zf.writestr(f"IMG_{i:04d}.jpg", jpeg_bytes(i, size))
        for name, data in extra:
            zf.writestr(name, data)
    return path


def slices(data, part_size):
    return [data[i:i + part_size] for i in range(0, len(data), part_size)]


class Client:
    """The protocol calls as the field clients make them (GET, query parameters, Basic auth)."""

    def __init__(self, base, token=None, auth=AUTH):
        self.base, self.token, self.auth = base.rstrip("/"), token, auth

    def call(self, endpoint, **params):
        if self.token and "token" not in params:
            params["token"] = self.token
        return requests.get(f"{self.base}/{endpoint}", params=params, auth=self.auth, timeout=60)

    def create(self, name, data, part_size, photos=3, **options):
        """createProject; ``options`` are per-scan option parameters (quality=..., ...)."""
        r = self.call("createProject", project=name, photos=photos,
                      parts=math.ceil(len(data) / part_size), filesize=len(data), **options)
        assert r.status_code == 200, r.text
        return r.json()

    def upload_all(self, name, data, part_size, photos=3, **options):
        """createProject, every part by POST, startProject: the old uploader.py's sequence."""
        created = self.create(name, data, part_size, photos, **options)
        for link, part in zip(created["ulink"], slices(data, part_size)):
            r = requests.post(link, data=part, timeout=60,
                              headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
        return self.call("startProject", project=name)


def write_big_zip(path, total_bytes, photos=20):
    """A stored zip of about ``total_bytes`` made of JPEG-framed random data (a real JPEG's
    header up to its image data, random bytes, the end marker), written in 1 MiB blocks (the
    test process never holds it in memory). Returns its exact size."""
    block = random.Random(0).randbytes(1 << 20)
    per_photo = total_bytes // photos
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for i in range(photos):
            with zf.open(f"IMG_{i:04d}.jpg", "w", force_zip64=True) as f:
                head = jpeg_head(i)
                f.write(head)
                left = per_photo - len(head) - 2
                while left > 0:
                    f.write(block[:min(left, len(block))])
                    left -= len(block)
                f.write(b"\xff\xd9")
    return path.stat().st_size


def file_slice(path, start, length, block=1 << 20):
    """Yield ``length`` bytes of ``path`` from ``start`` in blocks (a streamed request body)."""
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(block, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
