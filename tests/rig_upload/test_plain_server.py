"""Against a server with none of the extensions, through a proxy that cuts the connection:
the client falls back to sending a cut part again whole and still delivers the exact zip."""

from openscan_plugin.cloud.client import CloudClient
from openscan_plugin.cloud.package import ScanPackage
from openscan_plugin.cloud.upload_queue import UploadQueue
from openscan_plugin.cloud.retry import RetryPolicy
from openscan_plugin.cloud.uploader import Uploader

from .conftest import make_photos
from .cutproxy import CutProxy
from .plain_server import PART, PlainServer

TOKEN = "T" * 32


def test_plain_protocol_server_with_cuts(tmp_path):
    plain = PlainServer(TOKEN)
    photos = make_photos(tmp_path / "owl", count=10, size=50_000)
    package = ScanPackage.from_folder(photos, PART)
    proxy = CutProxy(plain.port, cuts=[150_000, 260_000, 420_000])
    queue = UploadQueue(tmp_path / "rig" / "uploads.sqlite")
    entry = queue.add(package, proxy.url, TOKEN)
    worker = Uploader(queue, retry=RetryPolicy(backoff=0.01))
    try:
        assert worker.process(entry.id)
    finally:
        proxy.close()
        plain.stop()
    done = queue.get(entry.id)
    assert done.state == "done", done.error
    assert proxy.cuts_done == 3
    assert plain.zip_bytes(done.project) == b"".join(ScanPackage.from_folder(photos, PART))
    assert (photos / "model" / "model.obj").is_file()
    # without tus a cut part goes again whole: at most one extra part per cut
    assert done.bytes_sent <= package.size + 3 * PART


def test_download_resumes_with_range(tmp_path, backend):
    """A cut download continues from the bytes on disk (Range) and gives the same file."""
    server = backend()
    token = server.token()
    photos = make_photos(tmp_path / "owl", count=3, size=1000)
    queue = UploadQueue(tmp_path / "rig" / "uploads.sqlite")
    entry = queue.add(ScanPackage.from_folder(photos, 100_000), server.url, token)
    assert Uploader(queue).process(entry.id)
    whole = next((photos / "cloud").glob("*.zip")).read_bytes()
    client = CloudClient(server.url, token)
    dlink = client.project_info(queue.get(entry.id).project)["dlink"]
    partial = tmp_path / "again.zip.part"
    partial.write_bytes(whole[:100])
    seen, responses = [], []
    # the zip may be smaller than one read, so progress alone would not tell a resume from a
    # restart on 200: record what the server answered on the client's download session
    client.raw.hooks["response"].append(lambda r, *a, **k: responses.append(r))
    client.download(dlink, tmp_path / "again.zip", lambda done, total: seen.append((done, total)))
    assert (tmp_path / "again.zip").read_bytes() == whole
    assert seen[0][0] > 100 and seen[-1] == (len(whole), len(whole))   # it started at byte 100
    codes = [r.status_code for r in responses]
    assert 206 in codes, codes
    resumed = responses[codes.index(206)]
    assert resumed.request.headers["Range"] == "bytes=100-"
    assert resumed.headers["Content-Range"] == f"bytes 100-{len(whole) - 1}/{len(whole)}"


def test_project_reset_on_server_mid_upload_starts_it_over(tmp_path, backend):
    """The half-sent project was reset on the server (from another client or by the admin):
    the next try creates it again and sends every part, not trusting its old count."""
    server = backend()
    photos = make_photos(tmp_path / "owl", count=6, size=40_000)
    package = ScanPackage.from_folder(photos, 100_000)
    queue = UploadQueue(tmp_path / "rig" / "uploads.sqlite")
    entry = queue.add(package, server.url, server.token())
    client = CloudClient(server.url, entry.token)
    links = client.create_project(entry.project, package.photos, package.parts, package.size)
    client.upload_part(links[0], package, 0)
    queue.update(entry.id, state="uploading", parts_done=1)      # as if the rig died after part 1
    client.reset_project(entry.project)
    assert Uploader(queue).process(entry.id)
    done = queue.get(entry.id)
    assert done.state == "done", done.error
    assert done.bytes_sent == package.size                       # all parts, part 1 again too
