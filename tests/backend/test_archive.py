"""The uploaded zip is checked before any job touches it: malicious or broken zips are refused
with a message naming the entry, and good ones pass."""
import io
import json
import zipfile

import pytest

from cloud_backend import archive
from cloud_backend.storage import LocalStore

from .helpers import Client, jpeg_bytes, make_zip, png_bytes

LIMITS = dict(limit_photos=100, max_image_bytes=20_000_000, max_ratio=20)


def build(entries, compression=zipfile.ZIP_STORED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return out.getvalue()


def check(data, **limits):
    return archive.validate(io.BytesIO(data), **{**LIMITS, **limits})


def refused(data, **limits):
    with pytest.raises(archive.ArchiveError) as e:
        check(data, **limits)
    return str(e.value)


def test_good_zip_with_jpegs_pngs_and_a_manifest():
    contents = check(build([("a.jpg", jpeg_bytes(1)), ("b.PNG", png_bytes(2)),
                            ("manifest.json", json.dumps({"version": 1}))]))
    assert contents.images == ["a.jpg", "b.PNG"] and contents.manifest


@pytest.mark.parametrize("name", ["../evil.jpg", "/etc/evil.jpg", "a/../../evil.jpg",
                                  "C:\\evil.jpg", "..\\evil.jpg"])
def test_path_traversal_is_refused(name):
    assert "unsafe path" in refused(build([("ok.jpg", jpeg_bytes(1)), (name, jpeg_bytes(2))]))


def test_images_in_folders_are_refused():
    assert "flat at the root" in refused(build([("scan/a.jpg", jpeg_bytes(1))]))


def test_non_images_are_refused():
    assert "not 'notes.txt'" in refused(build([("a.jpg", jpeg_bytes(1)), ("notes.txt", b"hi")]))
    assert "not a JPEG or PNG" in refused(build([("fake.jpg", b"just text, not an image")]))
    assert "not a JSON object" in refused(build([("a.jpg", jpeg_bytes(1)),
                                                 ("manifest.json", b"[1, 2")]))


def test_truncated_images_are_refused():
    assert "truncated" in refused(build([("cut.jpg", jpeg_bytes(1)[:-200])]))
    assert "truncated" in refused(build([("cut.png", png_bytes(1)[:-30])]))


def test_zip_bomb_by_ratio_and_by_size_is_refused():
    zeros = b"\0" * 10_000_000
    assert "zip bomb" in refused(build([("bomb.jpg", zeros)], zipfile.ZIP_DEFLATED))
    assert "unpacks to" in refused(build([("big.jpg", zeros)], zipfile.ZIP_DEFLATED),
                                   max_image_bytes=5_000_000)


def test_zip_bomb_that_lies_about_its_size_is_refused():
    """The directory says 2000 bytes; the data would inflate to 10 MB. Reading stops at the
    declared size and the checksum gives the lie away."""
    data = bytearray(build([("liar.jpg", jpeg_bytes(1) + b"\0" * 10_000_000)],
                           zipfile.ZIP_DEFLATED))
    real = (10_000_000 + len(jpeg_bytes(1))).to_bytes(4, "little")
    for at in (i for i in range(len(data)) if data[i:i + 4] == real):
        data[at:at + 4] = (2000).to_bytes(4, "little")
    assert "damaged" in refused(bytes(data))


def test_overlapping_entries_bomb_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.jpg", jpeg_bytes(1))
        for i in range(3):  # more directory entries pointing at the same data
            twin = zipfile.ZipInfo(f"twin{i}.jpg")
            original = zf.filelist[0]
            for attr in ("header_offset", "compress_size", "file_size", "CRC", "compress_type"):
                setattr(twin, attr, getattr(original, attr))
            zf.filelist.append(twin)
    assert "overlap" in refused(out.getvalue())


def test_corrupted_data_is_refused():
    data = bytearray(build([("a.jpg", jpeg_bytes(1))]))
    data[100] ^= 0xFF  # inside the image: the CRC no longer matches
    assert "damaged" in refused(bytes(data))


def test_not_a_zip_and_empty_zip_and_too_many_photos():
    assert "not a readable zip" in refused(b"GIF89a this is no zip")
    assert "no images" in refused(build([]))
    assert "at most 2" in refused(build([(f"{i}.jpg", jpeg_bytes(i)) for i in range(3)]),
                                  limit_photos=2)


def test_parts_reader_reads_across_part_boundaries(tmp_path):
    data = make_zip(tmp_path / "z.zip", photos=5).read_bytes()
    store = LocalStore(tmp_path / "blobs")
    keys = []
    for i, start in enumerate(range(0, len(data), 777)):
        (tmp_path / "p").write_bytes(data[start:start + 777])
        store.put_file(f"p/{i}", tmp_path / "p")
        keys.append(f"p/{i}")
    with archive.PartsReader(store, keys) as reader:
        assert reader.read() == data
        reader.seek(-1000, 2)
        assert reader.read(10) == data[-1000:-990]
        assert len(check_reader(reader).images) == 5


def check_reader(reader):
    reader.seek(0)
    return archive.validate(reader, **LIMITS)


def test_start_project_refuses_a_hostile_zip_and_the_name_can_be_reused(start_server):
    server = start_server(worker=False)
    client = Client(server.url, server.token())
    data = build([("ok.jpg", jpeg_bytes(1)), ("../../etc/cron.d/x.jpg", jpeg_bytes(2))])
    r = client.upload_all("hostile.zip", data, 200_000_000)
    assert r.status_code == 400 and "unsafe path" in r.json()["error"]
    assert client.call("getProjectInfo", project="hostile.zip").json()["status"] == "created"
    client.call("resetProject", project="hostile.zip")
    good = build([("ok.jpg", jpeg_bytes(1))])
    assert client.upload_all("hostile.zip", good, 200_000_000).status_code == 200
