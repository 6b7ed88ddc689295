"""The long-running rig process behind `openscan serve` (the web panel + the upload queue) and
`openscan daemon` (the same plus the scan page, the GPIO trigger, systemd readiness and
watchdog): one process, stopped cleanly by SIGTERM/SIGINT. Its parts come from compose.py;
its commands are in cli_daemon.py.

Shutdown leaves the entry in flight where it is (its state says what to do next and the server
keeps what arrived), so the next start resumes it without help.
"""
from __future__ import annotations

import logging
import signal
import threading
from typing import Callable, Optional

from .compose import ScanSide, open_process
from .sdnotify import notify, watchdog_interval

log = logging.getLogger("openscan.daemon")


class WebServer:
    """werkzeug's threaded server in a thread, so the main thread stays free for signals."""

    def __init__(self, app, host: str, port: int):
        from werkzeug.serving import make_server
        self.server = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="web", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(10)


def run_daemon(settings, *, host: str, port: int, web: bool = True, scan_side: Optional[ScanSide] = None,
               stop: threading.Event | None = None, own_queue: bool = True,
               say: Callable[[str], None] = print) -> int:
    """Run until SIGTERM/SIGINT (or `stop`). Returns the exit status. `scan_side` (None: the
    cloud panel only) says which rig to drive and whether a GPIO button starts scans; raises
    compose.QueueTaken when `own_queue` and another daemon works the queue."""
    stop = stop or threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):   # first: a stop during start-up is clean too
        signal.signal(sig, lambda *a: stop.set())
    process = open_process(settings, scan_side, own_queue=own_queue, say=say)
    service, controller, server = process.service, process.controller, None
    try:
        if web:
            from .web import create_app
            server = WebServer(create_app(service, controller=controller), host, port)
            server.start()
            say(f"web panel on http://{host}:{server.port}/cloud/")
            if controller is not None:
                say(f"scan control on http://{host}:{server.port}/scan/")
        notify("READY=1", f"STATUS={service.status_line()}")
        interval = watchdog_interval()
        while not stop.wait(min(interval or 5.0, 5.0)):
            # the watchdog only gets its ping while the queue worker lives: a dead worker
            # thread means systemd restarts us instead of a rig that silently stops uploading
            if service.worker_alive:
                notify("WATCHDOG=1", f"STATUS={service.status_line()}")
        say("stopping…")
        notify("STOPPING=1")
    finally:
        process.stop_scanning()           # cancels a running scan (resumable from its folder)
        if server is not None:
            server.stop()
        process.close()
    return 0
