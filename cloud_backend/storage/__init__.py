"""Blob storage behind one small interface, chosen by URL: ``file:///path`` (the default) or
``s3://bucket/prefix`` (any S3-compatible service; S3_ENDPOINT_URL and the usual AWS_* variables
for its address and credentials)."""
from urllib.parse import urlparse

from .base import BlobStore, PartLocked
from .local import LocalStore

__all__ = ["BlobStore", "PartLocked", "open_store"]


def open_store(settings):
    """The store the settings' STORAGE_URL names."""
    parsed = urlparse(settings["STORAGE_URL"])
    if parsed.scheme in ("", "file"):
        return LocalStore(parsed.path)
    if parsed.scheme == "s3":
        from .s3 import S3Store  # boto3 only where S3 is used
        return S3Store(parsed.netloc, parsed.path, settings.get("S3_ENDPOINT_URL"),
                       settings.get("S3_REGION"))
    raise ValueError(f"unsupported STORAGE_URL scheme {parsed.scheme!r} (use file:// or s3://)")
