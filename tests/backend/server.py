"""`openscan-cloud` as a real server and CLI in subprocesses, for tests over loopback."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(data_dir, *args, env=None):
    """Run `openscan-cloud --data-dir D ...`; returns stdout (fails the test on error)."""
    result = subprocess.run([sys.executable, "-m", "cloud_backend.cli", "--data-dir", str(data_dir),
                             *map(str, args)], capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


class Server:
    """`openscan-cloud serve` in a subprocess, on a free loopback port."""

    def __init__(self, data_dir, settings=None, worker=True, env=None):
        self.data_dir, self.port = Path(data_dir), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {}), **{
            f"OPENSCAN_CLOUD_{k}": json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in (settings or {}).items()}}
        args = [sys.executable, "-m", "cloud_backend.cli", "serve", "--host", "127.0.0.1",
                "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if not worker:  # a deployment's explicit step; `serve` with its worker migrates itself
            cli(self.data_dir, "migrate", env=self._cloud_env())
        self.log = open(self.data_dir / "server.log", "ab")
        self.process = subprocess.Popen(args + ([] if worker else ["--no-worker"]), env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/status", timeout=1).ok:
                    return
            except requests.RequestException:  # not listening yet, or slow to answer under load
                time.sleep(0.1)
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError("server did not start:\n" + (self.data_dir / "server.log").read_text())

    def token(self, **limits):
        """A new token made with the admin CLI (the token is its last line of output)."""
        args = ["token", "create", "--mail", "rig@example.org"]
        for key, value in limits.items():
            args += [f"--{key.replace('_', '-')}", value]
        return cli(self.data_dir, *args, env=self._cloud_env()).strip().splitlines()[-1]

    def _cloud_env(self):
        return {k: v for k, v in self.env.items() if k.startswith("OPENSCAN_CLOUD_")}

    def kill_everything(self):
        """A power cut: SIGKILL the server, its workers and their jobs at once."""
        import psutil
        parent = psutil.Process(self.process.pid)
        for p in [parent, *parent.children(recursive=True)]:
            p.kill()
        self.process.wait()
        self.log.close()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
