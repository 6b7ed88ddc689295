"""`openscan-cloud serve`: the API under gunicorn (a production WSGI server that streams request
bodies to the app, so parts never sit whole in memory) plus the embedded job worker."""
import logging
import os
import resource
import subprocess
import sys
from functools import partial

from gunicorn.app.base import BaseApplication

from . import config, lifeline

log = logging.getLogger(__name__)

# The access log, in one place (a log filter for it hooks in here).
ACCESS_LOG = {"accesslog": "-", "errorlog": "-", "loglevel": "info"}
# Every connection costs a file descriptor; idle ones are closed after front.HEAD_SECONDS.
MAX_CONNECTIONS = 2000


class _Gunicorn(BaseApplication):
    def __init__(self, settings, options):
        self.settings, self.options = settings, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from .api import create_app
        return create_app(self.settings)


def _raise_file_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def serve(settings, host, port, workers=1, threads=16, embedded_worker=True):
    """Run until SIGTERM/SIGINT; the embedded worker is started and stopped with the API, and
    dies with it (SIGTERM) if the server is killed outright."""
    _raise_file_limit(MAX_CONNECTIONS + 256)
    worker = None
    if embedded_worker:
        worker = subprocess.Popen([sys.executable, "-m", "cloud_backend.cli", "worker"],
                                  env={**os.environ, **config.to_environ(settings)},
                                  preexec_fn=partial(lifeline.die_with_parent, os.getpid()))
    options = {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        # gthread that reads request heads in its event loop: see front.py for why
        "worker_class": "cloud_backend.front.Worker", "worker_connections": MAX_CONNECTIONS,
        "limit_request_line": 0,  # front.py enforces its own, larger limit with a JSON 414
        "timeout": 120, "graceful_timeout": 30, "keepalive": 5,
        "proc_name": "openscan-cloud", **ACCESS_LOG,
        # gunicorn's admin socket sits at one path per user: parallel servers would share it
        "control_socket_disable": True,
    }
    try:
        _Gunicorn(settings, options).run()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait()
