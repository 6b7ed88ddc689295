"""Upload links: signed per project and part, expiring, exact sizes, replace-on-retry, resumable."""
import fcntl
import hashlib
import random
import socket
import threading
import time
from contextlib import nullcontext
from urllib.parse import urlsplit

import pytest
import requests

from cloud_backend.storage import LocalStore, local

from .helpers import Client, make_zip, slices

PART = 50_000


SERVER_SETTINGS = {"PART_SIZE": PART}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    data = make_zip(tmp_path_factory.mktemp("zip") / "s.zip", photos=7, size=(160, 120)).read_bytes()
    assert 2 * PART < len(data) < 3 * PART
    return data


def new_project(client, data):
    name = f"p{random.randrange(10**9)}.zip"
    return name, client.create(name, data, PART)["ulink"]


def staged_path(server, link):
    """Where the server stages the part of upload ``link`` (LocalStore under DATA_DIR/blobs)."""
    uid, index = link.split("?")[0].split("/")[4:6]
    return server.data_dir / "blobs" / "projects" / uid / "parts" / f"{int(index):05d}.staged"


def wait_until_writing(path, timeout=10):
    """Wait until a server request holds the write lock on the staged file ``path``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            with open(path, "rb") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                fcntl.flock(f, fcntl.LOCK_UN)
        time.sleep(0.02)
    raise AssertionError(f"no request is writing {path} after {timeout} s")


def send_partial(link, total_length, body, close=True):
    """Start a POST that announces ``total_length`` bytes but sends only ``body`` (a cut line)."""
    url = urlsplit(link)
    sock = socket.create_connection((url.hostname, url.port))
    sock.sendall(f"POST {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: {total_length}\r\n\r\n"
                 .encode() + body)
    if close:
        sock.close()
    return sock


def head_offset(link):
    r = requests.head(link)
    assert r.status_code == 200 and r.headers["Tus-Resumable"] == "1.0.0"
    length = r.headers.get("Upload-Length")  # absent until the slice size is known
    return int(r.headers["Upload-Offset"]), length and int(length)


def wait_for_offset(link, expected, timeout=10):
    deadline = time.monotonic() + timeout
    while head_offset(link)[0] != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return head_offset(link)[0]


def test_expired_link_is_refused(start_server, data):
    server = start_server({"PART_SIZE": PART, "LINK_MAX_AGE": 1}, worker=False)
    _, links = new_project(Client(server.url, server.token()), data)
    time.sleep(2.2)
    r = requests.post(links[0], data=data[:PART])
    assert r.status_code == 403 and "expired" in r.json()["error"]


def test_tampered_link_is_refused(client, data):
    _, links = new_project(client, data)
    sig = links[0].rsplit("sig=", 1)[1]
    middle = len(sig) - 5  # not the last character: its low bits are base64 padding
    forged = links[0].replace(sig, sig[:middle] + ("A" if sig[middle] != "A" else "B") + sig[middle + 1:])
    r = requests.post(forged, data=data[:PART])
    assert r.status_code == 403 and "invalid" in r.json()["error"]
    # HEAD and PATCH (which wait on a part's commit) are refused before any of that
    assert requests.head(forged).status_code == 403
    r = requests.patch(forged, data=data[:PART], headers={
        "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 403 and "invalid" in r.json()["error"]
    assert requests.post(links[0].split("?")[0], data=data[:PART]).status_code == 403  # no sig


def test_link_of_another_part_or_project_is_refused(client, data):
    _, links = new_project(client, data)
    _, other = new_project(client, data)
    as_part_1 = links[0].replace("/0?", "/1?")
    uid, other_uid = links[0].split("/")[4], other[0].split("/")[4]
    as_other_project = links[0].replace(uid, other_uid)
    for forged in (as_part_1, as_other_project):
        assert requests.post(forged, data=data[PART:2 * PART]).status_code == 403


def test_wrong_part_size_is_refused_and_nothing_is_stored(client, data):
    name, links = new_project(client, data)
    tiny = requests.post(links[0], data=data[:10])  # 3 slices of 10 bytes cannot hold the set
    assert tiny.status_code == 400 and "cannot be 10 bytes" in tiny.json()["error"]
    assert requests.post(links[0], data=data[:PART]).status_code == 200  # fixes the slice size
    short = requests.post(links[1], data=data[PART:2 * PART - 1])
    assert short.status_code == 400 and f"exactly {PART} bytes" in short.json()["error"]
    long = requests.post(links[1], data=data[PART:2 * PART] + b"x")
    assert long.status_code == 400 and "overrun" in long.json()["error"]
    last = requests.post(links[2], data=data[2 * PART:] + b"xx")  # the last part is short
    assert last.status_code == 400
    assert "missing part(s) 1, 2" in client.call("startProject", project=name).json()["error"]


def test_part_sent_twice_is_stored_once(client, data, server):
    name, links = new_project(client, data)
    first = requests.post(links[0], data=data[:PART]).json()
    again = requests.post(links[0], data=data[:PART]).json()
    assert first == again == {"content-hash": hashlib.sha256(data[:PART]).hexdigest(), "size": PART}
    for link, part in list(zip(links, slices(data, PART)))[1:]:
        requests.post(link, data=part)
    uid = links[0].split("/")[4]
    stored = sorted(p.name for p in (server.data_dir / "blobs" / "projects" / uid / "parts").iterdir())
    assert stored == ["00000", "00001", "00002"]
    assert client.call("startProject", project=name).status_code == 200


def test_part_resumes_after_a_cut_at_a_random_byte(client, data):
    name, links = new_project(client, data)
    requests.post(links[0], data=slices(data, PART)[0])  # fixes the slice size
    part = data[PART:2 * PART]
    cut = random.randrange(1, PART - 1)
    send_partial(links[1], PART, part[:cut])
    assert wait_for_offset(links[1], cut) == cut
    assert head_offset(links[1]) == (cut, PART)
    r = requests.patch(links[1], data=part[cut:], headers={
        "Tus-Resumable": "1.0.0", "Upload-Offset": str(cut),
        "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and r.headers["Upload-Offset"] == str(PART)
    requests.post(links[2], data=slices(data, PART)[2])
    assert client.call("startProject", project=name).status_code == 200


def test_first_part_resumes_before_the_slice_size_is_known(client, data):
    """Until a part is whole the length of each is unknown (tus Upload-Defer-Length); the
    resumed body's end completes it, as the rig's client sends the rest of the part."""
    _, links = new_project(client, data)
    cut = random.randrange(1, PART - 1)
    send_partial(links[0], PART, data[:cut])
    assert wait_for_offset(links[0], cut) == cut
    assert requests.head(links[0]).headers["Upload-Defer-Length"] == "1"
    r = requests.patch(links[0], data=data[cut:PART], headers={
        "Upload-Offset": str(cut), "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 204 and head_offset(links[0]) == (PART, PART)


def test_overrunning_patch_keeps_the_bytes_already_held(client, data):
    """A PATCH sending more than the part holds (chunked, so it is seen only as it arrives):
    a clear 413, and the bytes staged before it stay for the next try."""
    _, links = new_project(client, data)
    requests.post(links[0], data=data[:PART])
    cut = random.randrange(1, PART - 1)
    send_partial(links[1], PART, data[PART:PART + cut])
    assert wait_for_offset(links[1], cut) == cut
    r = requests.patch(links[1], data=iter([data[PART + cut:2 * PART] + b"too much"]), headers={
        "Upload-Offset": str(cut), "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 413 and f"{cut} bytes held are kept" in r.json()["error"]
    assert head_offset(links[1]) == (cut, PART)


def test_patch_with_the_wrong_offset_or_type_is_refused(client, data):
    _, links = new_project(client, data)
    send_partial(links[0], PART, data[:100])
    wait_for_offset(links[0], 100)
    wrong = requests.patch(links[0], data=data[50:PART], headers={
        "Upload-Offset": "50", "Content-Type": "application/offset+octet-stream"})
    assert wrong.status_code == 409 and wrong.headers["Upload-Offset"] == "100"
    untyped = requests.patch(links[0], data=data[100:PART], headers={"Upload-Offset": "100"})
    assert untyped.status_code == 415
    assert head_offset(links[0])[0] == 100  # refused requests changed nothing


def test_two_uploads_of_one_part_at_once(client, data, server):
    _, links = new_project(client, data)
    # more than front.PREREAD: the server starts reading the body only once that much arrived
    stalled = send_partial(links[0], PART, data[:20_000], close=False)
    try:
        wait_until_writing(staged_path(server, links[0]))  # inside the first upload, waiting for bytes
        r = requests.post(links[0], data=data[:PART])
        assert r.status_code == 409 and "another request" in r.json()["error"]
    finally:
        stalled.close()


def test_a_write_that_waited_for_the_lock_leaves_the_committed_part_alone(tmp_path, monkeypatch):
    """A cut request the server got to late opens the staged file while the client's retry
    writes it, and waits for the lock; the retry commits (renames the file into the part). The
    cut request must not then truncate and write the file it holds open: that is the stored
    part now (CI: part 2 of the zip set cut to 56,685 bytes, the job 'damaged zip')."""
    store, key = LocalStore(tmp_path), "projects/p/parts/00002"
    waiting, errors = threading.Event(), []

    def lock(f, key, real=local._lock):
        if threading.current_thread().name == "cut":
            waiting.set()  # the cut request has opened the staged file
        return real(f, key)
    monkeypatch.setattr(local, "_lock", lock)

    def cut_body():
        yield b"c" * 4
        raise OSError("the client went away")

    def cut_request():
        try:
            store.write_staged(key, cut_body(), 0, 10)
        except OSError as e:
            errors.append(e)
    cut = threading.Thread(target=cut_request, name="cut")

    def retry_body():  # the retry holds the lock now
        cut.start()
        yield b"w" * 10

    def commit(size, sha256):
        assert waiting.wait(5)
        return nullcontext()
    assert store.write_staged(key, retry_body(), 0, 10, commit=commit)[0] == 10
    cut.join(10)
    assert errors and store.open(key).read() == b"w" * 10
    assert store.staged_size(key) == 4  # what the cut request brought stays staged, as after any cut


def test_parts_are_frozen_once_started_and_gone_after_reset(client, data):
    name, links = new_project(client, data)
    for link, part in zip(links, slices(data, PART)):
        requests.post(link, data=part)
    client.call("startProject", project=name)
    late = requests.post(links[0], data=data[:PART])
    assert late.status_code == 409 and "initialized" in late.json()["error"]
    client.call("resetProject", project=name)
    assert requests.post(links[0], data=data[:PART]).status_code == 404


def test_options_advertises_tus(client, data):
    _, links = new_project(client, data)
    r = requests.options(links[0])
    assert r.headers["Tus-Version"] == "1.0.0"



@pytest.fixture
def in_process(app):
    """(link of part 0 of a new 2-part project, its bytes) on the `app` fixture's server, run in
    this process on loopback so a test can reach into its commit step."""
    from werkzeug.serving import make_server

    from cloud_backend import tokens

    svc = app.extensions["openscan_cloud"]
    with svc.db.session() as session:
        _, token = tokens.create(session, svc.settings, "rig@example.org")
    web = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    part = svc.settings["PART_SIZE"]
    data = random.Random(1).randbytes(2 * part)
    yield Client(f"http://127.0.0.1:{web.server_port}", token).create("p.zip", data, part)["ulink"][0], data[:part]
    web.shutdown()


def test_head_during_the_commit_of_a_part_answers_it_whole(in_process, monkeypatch):
    """Between the store making a part visible and its record, a HEAD must not answer 0: the
    client, cut off just as its last bytes arrived, would send the whole part again. The
    commit step is held open here (as a slow disk or database would) until the HEAD answers or
    2 s pass."""
    link, part = in_process
    in_commit, answered = threading.Event(), threading.Event()

    def slow_fsync(path, real=local.fsync_dir):
        real(path)
        in_commit.set()      # the part is visible in the store, not yet recorded
        answered.wait(2)
    monkeypatch.setattr(local, "fsync_dir", slow_fsync)
    upload = threading.Thread(target=requests.post, args=(link,), kwargs={"data": part})
    upload.start()
    assert in_commit.wait(10)
    offset = head_offset(link)[0]
    answered.set()
    upload.join(10)
    assert offset == len(part)


def test_a_part_whose_record_failed_is_sent_again(in_process, monkeypatch):
    """The database fails just after the store made the part visible: the client hears an
    error, HEAD answers 0 (not "held", which no retry could mend) and sending it again stores it."""
    from cloud_backend import projects

    link, part = in_process

    def broken(*args):
        raise OSError("the database went away")
    monkeypatch.setattr(projects, "record_part", broken)
    assert requests.post(link, data=part).status_code == 500
    assert head_offset(link)[0] == 0
    monkeypatch.undo()
    again = requests.post(link, data=part)
    assert again.status_code == 200 and again.json()["content-hash"] == hashlib.sha256(part).hexdigest()
    assert head_offset(link)[0] == len(part)
