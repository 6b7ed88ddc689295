"""Completion markers and progress plumbing shared by the stages.

A stage is finished when `<work_dir>/<name>.done.json` exists; the marker is
written last (atomically), so a process killed mid-stage leaves no marker and
the stage runs again from scratch on resume.
"""
import json
import os
import pathlib
import shutil


def marker_path(work_dir, name):
    return pathlib.Path(work_dir) / f"{name}.done.json"


def is_done(work_dir, name):
    return marker_path(work_dir, name).exists()


def read_marker(work_dir, name):
    return json.loads(marker_path(work_dir, name).read_text())


def write_json(path, data):
    """Write JSON via a temporary file and rename, so readers never see half a file."""
    path = pathlib.Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def mark_done(work_dir, name, stats):
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
