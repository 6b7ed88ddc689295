"""`openscan-cloud serve`: the API under gunicorn (a production WSGI server that streams request
bodies to the app, so parts never sit whole in memory) plus the embedded job worker."""
import logging
import os
import subprocess
import sys

from gunicorn.app.base import BaseApplication

from . import config

log = logging.getLogger(__name__)


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


def serve(settings, host, port, workers=1, threads=16, embedded_worker=True):
    """Run until SIGTERM/SIGINT; the embedded worker is started and stopped with the API."""
    worker = None
    if embedded_worker:
        worker = subprocess.Popen([sys.executable, "-m", "cloud_backend.cli", "worker"],
                                  env={**os.environ, **config.to_environ(settings)})
    options = {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "gthread", "timeout": 120, "graceful_timeout": 30,
        "accesslog": "-", "errorlog": "-", "loglevel": "info",
        "proc_name": "openscan-cloud",
    }
    try:
        _Gunicorn(settings, options).run()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait()
