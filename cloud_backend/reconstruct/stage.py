"""Completion markers and progress plumbing shared by the stages.

A stage is finished when `<work_dir>/<name>.done.json` exists; the marker is
written last (atomically), so a process killed mid-stage leaves no marker and
the stage runs again from scratch on resume. The marker also records the values of the
options the stage reads (options.STAGE_OPTIONS), so a re-run with other options knows
which results still hold (is_current).
"""
import json
import pathlib
import shutil
import sys
import time

from openscan_protocol.atomic import write_atomically

from .layout import Layout
from .options import stage_options


def marker_path(work_dir, name):
    return Layout(work_dir).marker(name)


def is_done(work_dir, name):
    return marker_path(work_dir, name).exists()


def read_marker(work_dir, name):
    return json.loads(marker_path(work_dir, name).read_text())


def is_current(work_dir, name, options):
    """Finished, and with the values `options` (resolved) gives the options the stage reads."""
    if not is_done(work_dir, name):
        return False
    try:
        recorded = read_marker(work_dir, name).get("options")
    except (OSError, ValueError):
        return False
    return recorded == stage_options(name, options)


def clear_marker(work_dir, name):
    marker_path(work_dir, name).unlink(missing_ok=True)


def write_json(path, data):
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    write_atomically(path, json.dumps(data, indent=2, sort_keys=True))


def mark_done(work_dir, name, stats, options=None):
    """Write the marker: the stage's stats, and under "options" the values it ran with."""
    if options is not None:
        stats = dict(stats, options=stage_options(name, options))
    write_json(marker_path(work_dir, name), stats)


def fresh_dir(path):
    """An empty directory: leftovers of a killed run must not leak into this one."""
    path = pathlib.Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def no_progress(fraction):
    """Default progress callback for a stage run alone."""


def command(name, run, argv=None):
    """`python -m cloud_backend.reconstruct.<stage> WORK_DIR [KEY=JSON ...]`: run one stage
    alone on a job's work folder (its inputs as earlier stages left them), mark it done and
    print its stats. `run(layout, options, progress)` is the stage's adapter."""
    import argparse

    from .options import resolve

    parser = argparse.ArgumentParser(prog=f"python -m cloud_backend.reconstruct.{name}")
    parser.add_argument("work_dir", type=pathlib.Path)
    parser.add_argument("option", nargs="*", help="pipeline option as KEY=JSON, e.g. poisson_depth=10")
    args = parser.parse_args(argv)
    options = resolve({k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)})
    layout = Layout(args.work_dir)
    t0 = time.monotonic()
    stats = run(layout, options, lambda f: print(f"\r{f:6.1%}", end="", file=sys.stderr, flush=True))
    stats = dict(stats or {}, seconds=round(time.monotonic() - t0, 3))
    mark_done(layout.work, name, stats, options)
    print(json.dumps(stats, indent=2))
