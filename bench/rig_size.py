#!/usr/bin/env python3
"""Rig-size benchmark: the simulated rig at the camera's full resolution, our pipeline against
COLMAP's defaults on the same photos, and a scale series.

    python bench/rig_size.py                       # 130 photos at 4656x3496, quality high
    python bench/rig_size.py --scale 65,130,260    # time per stage and peak RSS per size
    python bench/rig_size.py --scale 65,130,260 --size 1280x960 --quality standard
    python bench/rig_size.py --render-only --points 260

The scan is rendered once by the simulated rig (the Classic's IMX519, 4656x3496, JPEG as the
camera writes them; a 130-point sphere path like OpenScan3's default) and cached outside the
repository in $OPENSCAN_BENCH_CACHE (default ~/.cache/openscan-cloud/bench). A killed render
resumes where it stopped, as a real scan does after a power cut. A scale series renders its
largest size once; the smaller sizes are every 2nd, 4th... photo of it (the same object and
path, evenly thinned). Each size runs bench/reconstruct.py in its own process (chamfer
against the true mesh, pose error, COLMAP's defaults as the reference, peak RSS).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from openscan_protocol.manifest import FILENAME as MANIFEST  # noqa: E402
CACHE = pathlib.Path(os.environ.get("OPENSCAN_BENCH_CACHE", "~/.cache/openscan-cloud/bench")).expanduser()
FULL_SIZE = (4656, 3496)   # IMX519, OpenScan3's default camera


def render(points, size=FULL_SIZE, profile_name="classic"):
    """The cached scan folder of `points` photos, rendering (or resuming) it first."""
    from openscan_plugin.config import load_profile
    from openscan_plugin.hardware.camera import CameraSettings
    from openscan_plugin.hardware.sim.rig import build_simulated_rig
    from openscan_plugin.scan.path import plan_scan
    from openscan_plugin.scan.routine import ScanRoutine, read_position

    folder = CACHE / f"{profile_name}_{points}_{size[0]}x{size[1]}"
    done = folder / "rendered.json"
    if done.exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    resume = (folder / MANIFEST).exists()
    profile = load_profile(profile_name)
    rig = build_simulated_rig(profile, size=size, start_angles=read_position(folder) if resume else None)

    def on_event(event):
        if event.kind == "photo":
            print(f"\rrendering {folder.name}: {event.done}/{event.total}", end="", flush=True)

    routine = ScanRoutine(rig, folder, plan=None if resume else plan_scan(profile, points, mode="sphere"),
                          settings=CameraSettings.from_profile(profile["camera"]), on_event=on_event)
    routine.run(resume=resume)
    print()
    done.write_text(json.dumps({"points": points, "size": list(size)}))
    return folder


def thinned(folder, step):
    """A scan folder holding every `step`-th photo of `folder` (links, a filtered manifest)."""
    if step == 1:
        return folder
    half = folder.with_name(f"{folder.name}_every_{step}")
    if (half / MANIFEST).exists():
        return half
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["photos"] = manifest["photos"][::step]
    half.mkdir(exist_ok=True)
    for photo in manifest["photos"]:
        link = half / photo["file"]
        if not link.exists():
            link.symlink_to(folder / photo["file"])
    if not (half / "ground_truth").exists():
        (half / "ground_truth").symlink_to(folder / "ground_truth")
    (half / MANIFEST).write_text(json.dumps(manifest))
    return half


def run_pipeline(folder, quality, skip_baselines):
    """bench/reconstruct.py on one folder in its own process; its JSON result."""
    cmd = [sys.executable, str(ROOT / "bench" / "reconstruct.py"), str(folder), "--skip-colmap",
           "--option", f'quality="{quality}"']
    if skip_baselines:
        cmd.append("--skip-baselines")
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out[out.index("\n{") + 1:] if not out.startswith("{") else out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=130)
    parser.add_argument("--scale", default="", help="comma-separated sizes, e.g. 65,130,260 (65: every other of 130)")
    parser.add_argument("--quality", default="high", choices=["preview", "standard", "high"])
    parser.add_argument("--size", default="x".join(map(str, FULL_SIZE)), help="photo size WxH to render")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--skip-baselines", action="store_true", help="no COLMAP-defaults reference run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.scale.split(",") if s] or [args.points]
    size = tuple(int(v) for v in args.size.split("x"))
    largest = render(max(sizes), size)
    folders = {n: thinned(largest, max(sizes) // n) for n in sizes}
    if args.render_only:
        print(json.dumps({n: str(f) for n, f in folders.items()}, indent=2))
        return
    rows = []
    for n in sizes:   # each size printed when done: a series on 2 cores takes hours
        r = run_pipeline(folders[n], args.quality, args.skip_baselines)
        row = {"photos": n, "total_s": round(r["total_seconds"], 1), "stage_s": r["stage_seconds"],
               "peak_rss_mb": r.get("peak_rss_mb"), "registered": r["images"]["images_registered"],
               "chamfer_fraction_of_bbox_diagonal": r.get("chamfer_fraction_of_bbox_diagonal"),
               "rotation_error_deg_median": r.get("rotation_error_deg_median")}
        if "pycolmap_defaults" in r:
            colmap = r["pycolmap_defaults"]
            row["colmap_defaults_poses_s"] = round(colmap["seconds"], 1)
            row["colmap_defaults_registered"] = colmap.get("registered")
            row["colmap_defaults_rotation_error_deg_median"] = colmap.get("rotation_error_deg_median")
            row["ratio_textured_model_vs_colmap_poses"] = round(r["total_seconds"] / colmap["seconds"], 3)
        if rows:   # cost per doubling of photos
            row["time_ratio_vs_previous_size"] = round(row["total_s"] / rows[-1]["total_s"], 2)
        rows.append(row)
        print(json.dumps(row, indent=2), flush=True)


if __name__ == "__main__":
    main()
