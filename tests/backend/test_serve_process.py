"""`openscan-cloud serve` as a process: its embedded worker lives and dies with it."""
import os
import signal
import time

import psutil


def embedded_workers(data_dir):
    """`openscan-cloud worker` processes on ``data_dir`` (started by a serve with it)."""
    found = []
    for p in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmdline, env = p.info["cmdline"] or [], p.info["environ"] or {}
        except psutil.Error:
            continue
        if cmdline[-1:] == ["worker"] and env.get("OPENSCAN_CLOUD_DATA_DIR") == str(data_dir):
            found.append(p)
    return found


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_the_embedded_worker_dies_with_a_killed_server(start_server):
    server = start_server()
    assert wait_for(lambda: len(embedded_workers(server.data_dir)) == 1)
    worker = embedded_workers(server.data_dir)[0]
    os.kill(server.process.pid, signal.SIGKILL)  # no chance to stop its worker itself
    server.process.wait()
    try:
        assert wait_for(lambda: not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE)
    finally:
        if worker.is_running():  # an orphan (the bug): do not leave it behind
            worker.kill()
