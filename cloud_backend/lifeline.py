"""Child processes that die with their parent: a `kill -9` of a parent must not leave orphans
(a second embedded worker per restart, or a job racing its redelivered copy)."""
import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid, sig=signal.SIGTERM):
    """In a child, between fork and exec (``preexec_fn``): get ``sig`` when ``parent_pid`` dies.
    Linux only (elsewhere a no-op). The flag survives exec."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
    except OSError:
        return
    if os.getppid() != parent_pid:  # the parent died before the flag was set
        os.kill(os.getpid(), sig)
