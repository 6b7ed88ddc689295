"""Run one stage in a fresh interpreter (`python -m cloud_backend.reconstruct.isolate`).

Why: pycolmap, open3d and OpenCV each bring native thread pools; on this kind
of machine open3d's Poisson crashed (SIGSEGV in a worker thread) now and then
after pycolmap had run in the same process, and a crash in native code would
take the whole job down without a message. A child per stage keeps the
libraries apart, returns memory after each stage, and turns a crash into a
retry and, failing that, a ReconstructionError.

A plain subprocess, not multiprocessing: 'spawn' re-imports the caller's
__main__, which breaks any script without an `if __name__ == "__main__"` guard.
Messages travel as JSON lines over a dedicated pipe, since native libraries
print to stdout/stderr (those are inherited, i.e. they land in the job's log).
"""
import json
import os
import pathlib
import subprocess
import sys
import traceback

from .errors import ReconstructionError
from .layout import Layout

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_stage(name, work_dir, options, progress, retries=1):
    for _ in range(retries + 1):
        outcome, value, cpu = _run_once(name, str(work_dir), options, progress)
        if outcome == "done":
            # CPU time of the child: comparable between runs on a shared machine,
            # where wall time depends on what the neighbours do
            return dict(value or {}, cpu_seconds=round(cpu, 3))
        if outcome == "error":
            raise ReconstructionError(value)
        if outcome == "exception":
            raise RuntimeError(f"stage {name} failed:\n{value}")
        # "crashed": native code died; a second run usually succeeds
    raise ReconstructionError(
        f"the {name} step crashed ({value}) twice; please retry the project or contact support"
    )


def _run_once(name, work_dir, options, progress):
    read_fd, write_fd = os.pipe()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__, name, work_dir, str(write_fd)],
            stdin=subprocess.PIPE, pass_fds=(write_fd,), env=env,
        )
    finally:
        os.close(write_fd)
    try:
        proc.stdin.write(json.dumps(options).encode())
        proc.stdin.close()
    except BrokenPipeError:   # the child died at once; its exit status says how
        pass
    result = None
    with os.fdopen(read_fd) as messages:
        for line in messages:
            kind, value = json.loads(line)
            if kind == "progress":
                progress(value)
            else:
                result = (kind, value)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return (*(result or ("crashed", f"exit code {proc.returncode}")), cpu)


def _child(name, work_dir, fd):
    import cv2  # noqa: F401  (before pycolmap: PNG writing aborts otherwise)
    import importlib

    out = os.fdopen(fd, "w", buffering=1)

    def send(kind, value):
        out.write(json.dumps([kind, value]) + "\n")

    options = json.load(sys.stdin)
    try:
        module = importlib.import_module(f"{__package__}.{name}")
        stats = module.run(Layout(work_dir), options, lambda f: send("progress", float(f)))
        send("done", stats)
    except ReconstructionError as exc:
        send("error", str(exc))
    except Exception:   # noqa: BLE001  (a bug: the parent re-raises it with the traceback)
        send("exception", traceback.format_exc())
    finally:
        out.close()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
