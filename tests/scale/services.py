"""Real servers on loopback for the scale-out tests and bench: redis-server and PostgreSQL from
Debian's packages, an S3-compatible server (moto's), and the backend as API + Celery workers."""
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..backend.server import Server, free_port

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*/bin") else ""


def missing():
    """Why the scale-out tests cannot run here, or None."""
    if not shutil.which("redis-server"):
        return "redis-server is not installed (apt-get install redis-server)"
    if not PG_BIN:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    return None


def _wait_port(port, process, what, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port}")


class Redis:
    def __init__(self, folder):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
        _wait_port(self.port, self.process, "redis-server")
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class Postgres:
    """A private cluster; PostgreSQL refuses to run as root, so as root it runs as `postgres`."""

    def __init__(self):
        # its own folder in /tmp: the postgres user cannot enter pytest's root-only folders
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="openscan-pg-")), free_port()
        self.data = self.folder / "pgdata"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.folder, self.user)
        self._run([f"{PG_BIN}/initdb", "-D", str(self.data), "-A", "trust", "-U", "openscan"])
        self.start()
        self._run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "openscan",
                   "openscan"])
        self.url = f"postgresql+psycopg://openscan@127.0.0.1:{self.port}/openscan"

    def _run(self, argv, **kwargs):
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, **kwargs)

    def start(self):
        argv = [f"{PG_BIN}/postgres", "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.process, "postgres")

    def stop(self):
        """A fast shutdown: clients are disconnected, as in a real restart."""
        self._run([f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])
        self.process.wait(30)

    def remove(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def restart(self, down_seconds=3):
        self.stop()
        time.sleep(down_seconds)
        self.start()


class S3:
    """moto's S3-compatible server, over real HTTP."""

    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                         "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, self.process, "the S3 server")
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {"AWS_ACCESS_KEY_ID": "openscan", "AWS_SECRET_ACCESS_KEY": "openscan-secret",
                    "AWS_DEFAULT_REGION": "us-east-1"}

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class Cluster:
    """The backend scaled out: an API server, Celery workers and beat, all against PostgreSQL,
    Redis and S3. ``settings`` adds backend settings (e.g. a test pipeline)."""

    def __init__(self, folder, redis, postgres, s3, settings=None, env=None, workers=2):
        self.folder = Path(folder)
        self.settings = {"DATABASE_URL": postgres.url, "STORAGE_URL": "s3://openscan/test",
                         "S3_ENDPOINT_URL": s3.url, "JOB_QUEUE": "celery",
                         "CELERY_BROKER_URL": redis.url, **(settings or {})}
        self.env = {**os.environ, **s3.env, **(env or {}),
                    **{f"OPENSCAN_CLOUD_{k}": str(v) for k, v in self.settings.items()},
                    "OPENSCAN_CLOUD_DATA_DIR": str(self.folder)}
        self.folder.mkdir(parents=True, exist_ok=True)
        self.api = Server(self.folder, self.settings, worker=False, env=self.env)
        self.workers = [self.start_worker() for _ in range(workers)]
        self.beat = self._spawn(["beat"], "beat")

    def _spawn(self, args, name):
        log = open(self.folder / f"{name}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", "cloud_backend.cli", *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_worker(self):
        worker = self._spawn(["worker"], f"worker{len(getattr(self, 'workers', []))}")
        time.sleep(0.5)
        return worker

    def kill9(self, process):
        """kill -9 of a worker: the main process and its pool at once."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self):
        for process in [*self.workers, self.beat]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers, self.beat]:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.api.stop()

