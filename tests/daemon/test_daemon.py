"""`openscan daemon` as systemd runs it: READY/WATCHDOG/STOPPING over a real unix datagram
socket, a clean exit on SIGTERM, and an upload that survives `kill -9` of the daemon."""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from openscan_plugin.cloud.package import ScanPackage
from openscan_plugin.cloud.upload_queue import UploadQueue
from tests.backend.server import Server
from tests.rig_upload.conftest import FAST
from tests.rig_upload.cutproxy import CutProxy
from tests.rig_upload.test_cut_upload import write_photos
from tests.rig_upload.test_upload_cli import server_zip_sha


def rig_env(tmp_path, **extra):
    return {**os.environ, "OPENSCAN_DATA_DIR": str(tmp_path / "rig"),
            "OPENSCAN_CONFIG": str(tmp_path / "rig.json"), "PYTHONUNBUFFERED": "1", **extra}


def start_daemon(tmp_path, env, *args):
    return subprocess.Popen([sys.executable, "-m", "openscan_plugin.cli", "daemon", "--no-trigger",
                             "--host", "127.0.0.1", "--port", "0", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def status(env):
    out = subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "status", "--json"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    yield sock, path
    sock.close()


def messages_until(sock, wanted):
    seen = []
    while not any(wanted in m for m in seen):
        seen.append(sock.recv(4096).decode())
    return seen


def test_ready_watchdog_and_clean_sigterm(tmp_path, notify_socket):
    sock, path = notify_socket
    env = rig_env(tmp_path, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
    daemon = start_daemon(tmp_path, env)
    try:
        seen = messages_until(sock, "READY=1")
        assert "STATUS=idle" in seen[-1]
        messages_until(sock, "WATCHDOG=1")                 # pinged at half of WatchdogSec
        t0 = time.monotonic()
        messages_until(sock, "WATCHDOG=1")
        assert time.monotonic() - t0 < 1.0
        daemon.send_signal(signal.SIGTERM)
        messages_until(sock, "STOPPING=1")
        assert daemon.wait(20) == 0
        assert "web panel on http://127.0.0.1:" in daemon.stdout.read()
    finally:
        if daemon.poll() is None:
            daemon.kill()


def test_second_daemon_on_same_queue_refuses(tmp_path, notify_socket):
    sock, path = notify_socket
    env = rig_env(tmp_path)
    first = start_daemon(tmp_path, rig_env(tmp_path, NOTIFY_SOCKET=path), "--no-web")
    try:
        messages_until(sock, "READY=1")                     # sent once it holds the queue lock
        second = subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "daemon", "--no-trigger",
                                 "--no-web"], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and "another openscan daemon works the queue" in second.stderr
        # a panel next to the daemon is fine: it only queues, the daemon sends
        panel = subprocess.Popen([sys.executable, "-m", "openscan_plugin.cli", "serve", "--host", "127.0.0.1",
                                  "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True)
        lines = [panel.stdout.readline()]
        while "web panel on" not in lines[-1] and lines[-1]:
            lines.append(panel.stdout.readline())
        assert "this panel queues uploads for it" in "".join(lines) and "web panel on" in lines[-1]
        panel.terminate()
        assert panel.wait(20) == 0
    finally:
        first.terminate()
        first.wait(20)


@pytest.mark.slow
def test_kill_9_mid_upload_then_restart_resumes(tmp_path):
    part = 50_000_000
    photos = write_photos(tmp_path / "scan", 12, 25_000_000)      # 300 MB, 6 parts
    (tmp_path / "srv").mkdir()
    server = Server(tmp_path / "srv", {**FAST, "PART_SIZE": part})
    wire = CutProxy(server.port)                             # no cuts: it counts what is sent
    env = rig_env(tmp_path)
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"server": wire.url, "token": server.token(),
                                                             "part_size": part}}))
    try:
        queued = subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "upload", str(photos), "--no-wait"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert queued.returncode == 0, queued.stderr
        daemon = start_daemon(tmp_path, env, "--no-web")
        deadline = time.monotonic() + 120
        while True:                                          # kill it in the middle of part 3
            row = status(env)[0]
            if row["state"] == "uploading" and row["bytes_done"] > 2.3 * part:
                break
            assert time.monotonic() < deadline and daemon.poll() is None, row
            time.sleep(0.1)
        daemon.kill()
        daemon.wait()
        killed_at = status(env)[0]
        assert killed_at["state"] == "uploading" and killed_at["parts_done"] < 6
        daemon = start_daemon(tmp_path, env, "--no-web")      # nobody touches the queue
        deadline = time.monotonic() + 180
        while (row := status(env)[0])["state"] != "done":
            assert row["state"] not in ("failed", "cancelled") and time.monotonic() < deadline, row
            time.sleep(0.5)
        daemon.terminate()
        assert daemon.wait(30) == 0
        local = hashlib.sha256(b"".join(ScanPackage.from_folder(photos, part))).hexdigest()
        assert server_zip_sha(server) == local
        assert (photos / "model" / "model.obj").is_file()
        # parts finished before the kill are not sent again; the killed one resumes from the
        # server's offset: everything on the wire, both runs, stays below the zip + one part
        resent = wire.upstream_bytes - row["size"]
        assert 0 <= resent < part, resent
        print(f"\nkilled at {killed_at['bytes_done'] / 1e6:.0f} MB; on the wire {resent / 1e6:.1f} MB "
              f"more than the {row['size'] / 1e6:.0f} MB zip")
    finally:
        wire.close()
        server.stop()


def test_cli_upload_follows_the_daemon(tmp_path, backend, notify_socket):
    """With the daemon running, `openscan upload` queues and follows; the daemon sends it."""
    from tests.rig_upload.conftest import make_photos
    sock, path = notify_socket
    server = backend()
    env = rig_env(tmp_path)
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"server": server.url, "token": server.token(),
                                                             "part_size": 100_000}}))
    daemon = start_daemon(tmp_path, rig_env(tmp_path, NOTIFY_SOCKET=path), "--no-web")
    try:
        messages_until(sock, "READY=1")                     # sent once it holds the queue lock
        photos = make_photos(tmp_path / "owl", count=3, size=50_000)
        r = subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "upload", str(photos)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "the daemon is working the queue" in r.stdout and "done: model in" in r.stdout
        assert (photos / "model" / "model.obj").is_file()
    finally:
        daemon.terminate()
        assert daemon.wait(20) == 0


def test_sigterm_mid_upload_stops_quickly_and_resumes(tmp_path, backend):
    """systemctl stop during an upload over a slow link: out within seconds, nothing lost,
    the next start goes on from the server's offset."""
    server = backend(PART_SIZE=4_000_000)
    slow = CutProxy(server.port, rate=1_000_000)
    photos = write_photos(tmp_path / "scan", 4, 2_000_000)
    env = rig_env(tmp_path)
    (tmp_path / "rig.json").write_text(json.dumps({"cloud": {"server": slow.url, "token": server.token(),
                                                             "part_size": 4_000_000}}))
    try:
        subprocess.run([sys.executable, "-m", "openscan_plugin.cli", "upload", str(photos), "--no-wait"],
                       env=env, check=True, capture_output=True, timeout=60)
        daemon = start_daemon(tmp_path, env, "--no-web")
        deadline = time.monotonic() + 60
        queue = UploadQueue(tmp_path / "rig" / "uploads.sqlite")     # read directly: fast polls
        while not ((row := queue.get(1)).state == "uploading" and 1_000_000 < row.bytes_done < 6_000_000):
            assert time.monotonic() < deadline, (row.state, row.bytes_done, row.error, daemon.poll())
            time.sleep(0.05)
        t0 = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(20) == 0
        assert time.monotonic() - t0 < 5
        assert status(env)[0]["state"] == "uploading"
        daemon = start_daemon(tmp_path, env, "--no-web")
        deadline = time.monotonic() + 90
        while (row := status(env)[0])["state"] != "done":
            assert row["state"] not in ("failed", "cancelled") and time.monotonic() < deadline, row
            time.sleep(0.3)
        daemon.terminate()
        daemon.wait(20)
        assert slow.upstream_bytes - row["size"] < 4_000_000    # the cut part was not sent again whole
    finally:
        slow.close()
