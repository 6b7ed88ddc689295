"""systemd's sd_notify protocol: one datagram per message on the unix socket $NOTIFY_SOCKET
(READY=1, STATUS=..., WATCHDOG=1, STOPPING=1). A no-op when not started by systemd."""
from __future__ import annotations

import os
import socket
from typing import Optional


def notify(*lines: str) -> bool:
    """Send `lines` as one message; False when there is no $NOTIFY_SOCKET to send to."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):                 # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall("\n".join(lines).encode())
        return True
    except OSError:
        return False


def watchdog_interval() -> Optional[float]:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 2e6
