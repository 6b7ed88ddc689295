"""Blob storage behind one small interface, chosen by URL: ``file:///path`` (the default)."""
from urllib.parse import urlparse

from .base import BlobStore, PartLocked
from .local import LocalStore

__all__ = ["BlobStore", "PartLocked", "open_store"]


def open_store(url):
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return LocalStore(parsed.path)
    raise ValueError(f"unsupported STORAGE_URL scheme {parsed.scheme!r} (use file://)")
