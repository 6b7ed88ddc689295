"""What the backend needs from storage: whole blobs, plus staged (resumable) writes for parts."""
import io
from abc import ABC, abstractmethod
from contextlib import nullcontext


class RandomAccessReader(io.RawIOBase):
    """A read-only, seekable stream of ``length`` bytes; subclasses implement readinto() at
    ``pos`` and advance it."""

    def __init__(self, length):
        self.length, self.pos = length, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.length}[whence]
        self.pos = max(0, base + offset)
        return self.pos


class PartLocked(Exception):
    """Another request is writing the same staged blob right now."""


class BlobStore(ABC):
    presigns = False  # whether url() gives presigned URLs straight to the store

    # Whole blobs ---------------------------------------------------------------------------
    @abstractmethod
    def open(self, key):
        """A seekable binary file object for reading ``key``."""

    @abstractmethod
    def size(self, key):
        """Size in bytes, or None when ``key`` does not exist."""

    @abstractmethod
    def put_file(self, key, path):
        """Store the local file ``path`` under ``key`` atomically."""

    @abstractmethod
    def delete_prefix(self, prefix):
        """Delete every blob (staged or not) whose key starts with ``prefix``."""

    def local_path(self, key):
        """A filesystem path of ``key`` when the store has one (lets Flask serve ranges itself)."""
        return None

    def url(self, key, expires, filename=None, method="get_object"):
        """A presigned URL straight to the store (GET, or PUT with method="put_object"), when
        the store can make one; None otherwise (the server then serves the bytes itself)."""
        return None

    # Staged writes: a blob grows by appends and becomes visible only when committed ----------
    @abstractmethod
    def staged_size(self, key):
        """Bytes staged so far for ``key`` (0 when nothing is staged)."""

    @abstractmethod
    def write_staged(self, key, chunks, offset, complete_size, commit=None):
        """Write the byte chunks at ``offset`` (0 starts over; otherwise must equal staged_size),
        hashing as they are written.

        When the staged bytes reach ``complete_size`` (None: when the chunks end) they atomically
        replace ``key``, inside ``commit(size, sha256)`` (a context manager; when it raises on
        entry, nothing is replaced; ``sha256()`` gives the whole blob's hash, within it or after),
        and that hash is returned with the size; otherwise ``(size, None)``. Bytes that arrived before an error stay staged, so an interrupted upload
        can be resumed. Raises PartLocked while another writer holds ``key``.
        """


def no_commit_guard(size, sha256):
    return nullcontext()
