"""Blobs in an S3-compatible bucket (boto3). Staged writes are multipart uploads: the body is cut
into 8 MiB parts as it arrives; if the connection breaks, the short tail goes to ``<key>.tail``
so the upload resumes from the exact byte. Reads are ranged GETs, so a job reads a zip's parts
straight from the bucket."""
import functools
import hashlib
import io

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .base import BlobStore, RandomAccessReader, no_commit_guard

BLOCK = 8 << 20  # multipart part size (S3 wants at least 5 MiB for all but the last)
TAIL = ".tail"


class S3Store(BlobStore):
    presigns = True

    def __init__(self, bucket, prefix="", endpoint_url=None, region=None):
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                               config=Config(retries={"mode": "standard", "max_attempts": 5}))
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError:
            self.s3.create_bucket(Bucket=bucket)

    def _key(self, key):
        return f"{self.prefix}/{key}" if self.prefix else key

    # whole blobs ---------------------------------------------------------------------------
    def open(self, key):
        """Reads pinned to the version there now (If-Match on its ETag): an object replaced
        meanwhile (a presigned PUT) fails the read instead of mixing in unchecked bytes."""
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(key)
        return io.BufferedReader(_RangeReader(self.s3, self.bucket, self._key(key),
                                              head["ContentLength"], head["ETag"]), BLOCK)

    def size(self, key):
        head = self._head(key)
        return head and head["ContentLength"]

    def _head(self, key):
        try:
            return self.s3.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put_file(self, key, path):
        self.s3.upload_file(str(path), self.bucket, self._key(key))  # multipart when large

    def delete_prefix(self, prefix):
        full = self._key(prefix)
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        for upload in self._uploads(full):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                           UploadId=upload["UploadId"])

    def url(self, key, expires, filename=None, method="get_object"):
        """A presigned URL: GET for results (Range works), PUT for direct part uploads."""
        params = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.s3.generate_presigned_url(method, Params=params, ExpiresIn=int(expires))

    # staged writes ---------------------------------------------------------------------------
    def _uploads(self, full_key):
        found = []
        for page in self.s3.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=full_key):
            found += [u for u in page.get("Uploads", []) if u["Key"].startswith(full_key)]
        return found

    def _staged(self, full_key):
        """(upload id, [uploaded parts], tail bytes) of the pending upload of ``full_key``."""
        uploads = [u for u in self._uploads(full_key) if u["Key"] == full_key]
        if not uploads:
            return None, [], b""
        upload_id = max(uploads, key=lambda u: u["Initiated"])["UploadId"]
        parts = []
        for page in self.s3.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=full_key, UploadId=upload_id):
            parts += page.get("Parts", [])
        try:
            tail = self.s3.get_object(Bucket=self.bucket, Key=full_key + TAIL)["Body"].read()
        except ClientError:
            tail = b""
        return upload_id, sorted(parts, key=lambda p: p["PartNumber"]), tail

    def staged_size(self, key):
        _, parts, tail = self._staged(self._key(key))
        return sum(p["Size"] for p in parts) + len(tail)

    def write_staged(self, key, chunks, offset, complete_size, commit=no_commit_guard):
        full = self._key(key)
        if offset == 0:
            for upload in self._uploads(full):  # a fresh start replaces any earlier attempt
                if upload["Key"] == full:
                    self.s3.abort_multipart_upload(Bucket=self.bucket, Key=full,
                                                   UploadId=upload["UploadId"])
            self.s3.delete_object(Bucket=self.bucket, Key=full + TAIL)
            upload_id, parts, tail = None, [], b""
        else:
            upload_id, parts, tail = self._staged(full)
            if offset != sum(p["Size"] for p in parts) + len(tail):
                raise ValueError(f"offset {offset} does not match the bytes staged")
        if upload_id is None:
            upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=full)["UploadId"]
        done = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts]
        size = sum(p["Size"] for p in parts)
        digest = hashlib.sha256() if offset == 0 else None
        buffer = bytearray(tail)
        try:
            for chunk in chunks:
                buffer += chunk
                if digest:
                    digest.update(chunk)
                while len(buffer) >= BLOCK:
                    size += self._upload_part(full, upload_id, done, bytes(buffer[:BLOCK]))
                    del buffer[:BLOCK]
        except BaseException:  # interrupted: keep the tail for a resume
            self.s3.put_object(Bucket=self.bucket, Key=full + TAIL, Body=bytes(buffer))
            raise
        held = size + len(buffer)
        if complete_size is not None and held != complete_size:  # still short: keep the tail
            self.s3.put_object(Bucket=self.bucket, Key=full + TAIL, Body=bytes(buffer))
            return held, None
        if buffer or not done:
            self._upload_part(full, upload_id, done, bytes(buffer))
        # a resumed part is hashed once whole: S3 cannot read an upload's parts before that
        sha256 = functools.cache(digest.hexdigest if digest else lambda: self._sha256(key))
        with commit(held, sha256):
            self.s3.complete_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id,
                                              MultipartUpload={"Parts": done})
        self.s3.delete_object(Bucket=self.bucket, Key=full + TAIL)
        return held, sha256()

    def _upload_part(self, full, upload_id, done, data):
        number = len(done) + 1
        etag = self.s3.upload_part(Bucket=self.bucket, Key=full, UploadId=upload_id,
                                   PartNumber=number, Body=data)["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
        return len(data)

    def _sha256(self, key):
        digest = hashlib.sha256()
        with self.open(key) as f:
            while block := f.read(BLOCK):
                digest.update(block)
        return digest.hexdigest()


class _RangeReader(RandomAccessReader):
    """One object, fetched with ranged GETs."""

    def __init__(self, s3, bucket, key, size, etag):
        super().__init__(size)
        self.s3, self.bucket, self.key, self.etag = s3, bucket, key, etag

    def readinto(self, buffer):
        if self.pos >= self.length or not len(buffer):
            return 0
        end = min(self.pos + len(buffer), self.length) - 1
        data = self.s3.get_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag,
                                  Range=f"bytes={self.pos}-{end}")["Body"].read()
        buffer[:len(data)] = data
        self.pos += len(data)
        return len(data)
