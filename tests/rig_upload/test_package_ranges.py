"""A part of the scan's zip is read from the member it starts in: retrying or resuming part k
of a big scan does not read the k parts before it from the SD card again, and its bytes are
exactly the whole stream's."""
import builtins
import json
import random

import pytest

from openscan_plugin.cloud.package import ScanPackage

from .conftest import make_photos

PHOTO = 30_000
PART = 100_000


@pytest.fixture
def scan(tmp_path):
    folder = make_photos(tmp_path / "owl", count=20, size=PHOTO)
    (folder / "manifest.json").write_text(json.dumps({"status": "complete", "photos": []}))
    (folder / "scan_ü.jpg").write_bytes((folder / "scan_0000.jpg").read_bytes())   # a UTF-8 name
    return folder


@pytest.fixture
def bytes_read(scan, monkeypatch):
    """Counts the bytes read from the scan's files."""
    count = {"n": 0}
    real_open = builtins.open

    class Counted:
        def __init__(self, f):
            self.f = f

        def read(self, *args):
            data = self.f.read(*args)
            count["n"] += len(data)
            return data

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __getattr__(self, name):
            return getattr(self.f, name)

    def counting_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Counted(f) if str(file).startswith(str(scan)) and "b" in mode else f
    monkeypatch.setattr(builtins, "open", counting_open)
    return count


def test_any_range_is_the_whole_streams_slice(scan):
    package = ScanPackage.from_folder(scan, PART)
    whole = b"".join(package)
    assert len(whole) == package.size
    rng = random.Random(1)
    cuts = [0, 1, package.size - 1, package.size] + [rng.randrange(package.size) for _ in range(30)]
    for start, end in zip(cuts, cuts[1:] + [package.size]):
        start, end = sorted((start, end))
        fresh = ScanPackage.from_folder(scan, PART)        # as after a restart: nothing learnt
        assert b"".join(fresh.iter_range(start, end)) == whole[start:end], (start, end)


def test_a_middle_part_reads_about_one_part_not_everything_before_it(scan, bytes_read):
    package = ScanPackage.from_folder(scan, PART)
    whole_stream = b"".join(ScanPackage.from_folder(scan, PART))
    index = package.parts - 2
    bytes_read["n"] = 0
    data = b"".join(ScanPackage.from_folder(scan, PART).iter_part(index))
    start, end = package.part_range(index)
    assert data == whole_stream[start:end]
    assert bytes_read["n"] <= PART + PHOTO + 1000        # the part, plus the start of its first photo
    assert start > 3 * PART                              # ...while the part begins far into the zip


def test_the_last_part_after_a_restart_reads_about_one_part(scan, bytes_read):
    """The CRCs the central directory needs were learnt while the earlier parts went out and
    are kept in the queue's snapshot."""
    package = ScanPackage.from_folder(scan, PART)
    whole_stream = b"".join(ScanPackage.from_folder(scan, PART))
    for index in range(package.parts - 1):
        b"".join(package.iter_part(index))
    snapshot = json.loads(json.dumps(package.snapshot()))   # through the queue's database
    bytes_read["n"] = 0
    resumed = ScanPackage.from_snapshot(scan, snapshot, PART)
    data = b"".join(resumed.iter_part(package.parts - 1))
    assert data == whole_stream[package.part_range(package.parts - 1)[0]:]
    assert bytes_read["n"] <= PART + PHOTO + 1000
