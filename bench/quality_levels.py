#!/usr/bin/env python3
"""What each quality level costs and delivers, on one rendered scan of a known mesh.

    python bench/quality_levels.py [--per-ring 18] [--size 1280x960] [--levels preview,standard]

Renders a two-ring turntable scan (rotor 20 and 45 degrees) at the given photo size, runs the
whole pipeline once per level in this process, and prints per level: CPU seconds per stage
(every stage's own process; comparable on a shared machine), wall time, and model.stl against
the true mesh (bounding box and volume error, watertight). The last line is the CPU ratio of
each level against `preview`: the quick look should cost at least 3x less than `standard`.
"""
import argparse
import io
import json
import os
import pathlib
import tempfile
import time
import zipfile

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402
import trimesh  # noqa: E402

from cloud_backend.reconstruct import pipeline, synthetic  # noqa: E402


def run_level(data, work, level):
    t0 = time.monotonic()
    result = pipeline.run(io.BytesIO(data), work, {"quality": level})
    wall = time.monotonic() - t0
    markers = {m.name.split(".")[0]: json.loads(m.read_text()) for m in work.glob("*.done.json")}
    cpu = {name: round(m.get("cpu_seconds", m["seconds"]), 1) for name, m in markers.items()}
    with zipfile.ZipFile(result) as archive:
        solid = trimesh.load(io.BytesIO(archive.read("model.stl")), file_type="stl")
    return wall, cpu, solid


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-ring", type=int, default=18)
    parser.add_argument("--size", default="1280x960")
    parser.add_argument("--levels", default="preview,standard")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    t0 = time.monotonic()
    data = synthetic.scan_zip(args.per_ring, (20.0, 45.0), width, height, manifest="full")[0].getvalue()
    print(f"{2 * args.per_ring} photos at {width}x{height} rendered in {time.monotonic() - t0:.0f} s")
    true = trimesh.Trimesh(*synthetic.object_mesh())
    totals = {}
    with tempfile.TemporaryDirectory(prefix="quality-") as tmp:
        for level in args.levels.split(","):
            wall, cpu, solid = run_level(data, pathlib.Path(tmp) / level, level)
            totals[level] = sum(cpu.values())
            bbox = np.abs(solid.extents / true.extents - 1).max()
            volume = solid.volume / true.volume - 1 if solid.is_watertight else float("nan")
            print(f"{level:9s} wall {wall:6.1f} s  cpu {totals[level]:6.1f} s  {cpu}")
            print(f"{'':9s} model.stl: watertight {solid.is_watertight}, bbox error {bbox:.1%}, "
                  f"volume error {volume:+.1%}")
    base = totals.get("preview")
    if base:
        print("cpu ratio vs preview: " + ", ".join(f"{k} {v / base:.2f}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
