"""Blobs as files under one folder. Staged writes go to ``<key>.staged`` and are renamed into
place, so a reader never sees half a part and a retry never leaves a duplicate."""
import fcntl
import hashlib
import os
import shutil
import time
from pathlib import Path

from openscan_protocol.atomic import fsync_dir, replacing

from .base import BlobStore, PartLocked, no_commit_guard

STAGED = ".staged"
LOCK_WAIT = 5.0  # seconds a writer waits for the previous one (a client resuming right after a cut)


def _lock(f, key):
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            return fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise PartLocked(key) from None
            time.sleep(0.05)


def _open_staged(path, key):
    """The staged file, opened and locked. A writer that opened it while another held the lock
    may find it committed meanwhile (renamed into the part): that file is the stored part now,
    not to be truncated or appended to, so it opens the staged path again."""
    while True:
        f = open(path, "a+b")
        try:
            _lock(f, key)
            if _still_at(f, path):
                return f
        except BaseException:
            f.close()
            raise
        f.close()


def _still_at(f, path):
    try:
        return os.path.samestat(os.fstat(f.fileno()), os.stat(path))
    except FileNotFoundError:  # committed, or deleted by a reset
        return False


class LocalStore(BlobStore):
    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key):
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def open(self, key):
        return open(self._path(key), "rb")

    def size(self, key):
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, key):
        return self._path(key)

    def put_file(self, key, path):
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as source, replacing(target) as f:
            shutil.copyfileobj(source, f, 1 << 20)

    def delete_prefix(self, prefix):
        path = self._path(prefix)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            for blob in path.parent.glob(path.name + "*"):
                blob.unlink(missing_ok=True)

    def staged_size(self, key):
        try:
            return self._path(key + STAGED).stat().st_size
        except FileNotFoundError:
            return 0

    def write_staged(self, key, chunks, offset, complete_size, commit=no_commit_guard):
        path = self._path(key + STAGED)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _open_staged(path, key) as f:
            if offset == 0:
                f.truncate(0)
            elif offset != f.seek(0, os.SEEK_END):
                raise ValueError(f"offset {offset} does not match the {f.tell()} bytes staged")
            digest = hashlib.sha256()
            f.seek(0)
            while block := f.read(1 << 20):  # a resumed upload: hash what is already there
                digest.update(block)
            try:
                for chunk in chunks:
                    f.write(chunk)
                    digest.update(chunk)
            finally:
                f.flush()
                os.fsync(f.fileno())
            size = f.tell()
            if complete_size is not None and size != complete_size:
                return size, None
            with commit(size, digest.hexdigest):
                os.replace(path, self._path(key))  # still under the lock: no writer can slip in
                fsync_dir(path.parent)             # the staged bytes were fsynced above
            return size, digest.hexdigest()
