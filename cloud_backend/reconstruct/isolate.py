"""Run one stage in a fresh interpreter.

Why: pycolmap, open3d and OpenCV each bring native thread pools; on this kind
of machine open3d's Poisson crashed (SIGSEGV in a worker thread) now and then
after pycolmap had run in the same process, and a crash in native code would
take the whole job down without a message. A spawned child per stage keeps
the libraries apart, returns memory after each stage, and turns a crash into
a retry and, failing that, a ReconstructionError.
"""
import importlib
import multiprocessing
import traceback

from .errors import ReconstructionError


def run_stage(name, work_dir, options, progress, retries=1):
    for attempt in range(retries + 1):
        outcome, value = _run_once(name, str(work_dir), options, progress)
        if outcome == "done":
            return value
        if outcome == "error":
            raise ReconstructionError(value)
        if outcome == "exception":
            raise RuntimeError(f"stage {name} failed:\n{value}")
        # "crashed": native code died; a second run usually succeeds
    raise ReconstructionError(
        f"the {name} step crashed ({value}) twice; please retry the project or contact support"
    )


def _run_once(name, work_dir, options, progress):
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(name, work_dir, options, sender), daemon=True)
    proc.start()
    sender.close()
    result = None
    try:
        while result is None:
            try:
                kind, value = receiver.recv()
            except EOFError:
                break
            if kind == "progress":
                progress(value)
            else:
                result = (kind, value)
    finally:
        proc.join()
        receiver.close()
    return result or ("crashed", f"exit code {proc.exitcode}")


def _child(name, work_dir, options, sender):
    import pathlib

    import cv2  # noqa: F401  (before pycolmap: PNG writing aborts otherwise)

    try:
        module = importlib.import_module(f"{__package__}.{name}")
        stats = module.main(pathlib.Path(work_dir), options, lambda f: sender.send(("progress", float(f))))
        sender.send(("done", stats))
    except ReconstructionError as exc:
        sender.send(("error", str(exc)))
    except Exception:   # noqa: BLE001  (a bug: the parent re-raises it with the traceback)
        sender.send(("exception", traceback.format_exc()))
    finally:
        sender.close()
