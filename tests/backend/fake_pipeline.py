"""A stand-in reconstruction for the job-system tests: real unpacking, then stages that take
FAKE_STAGE_SECONDS each, leave a marker and log their start to FAKE_RUN_LOG (and put the
options they got in the result's options.json), so tests can watch progress, kill, resume and fail
without waiting minutes for photogrammetry. (The real pipeline has its own tests.)"""
import json
import os
import time
import zipfile
from pathlib import Path

STAGES = ["ingest", "features", "sfm", "export"]


def run(zip_file, work_dir, options=None, progress=None):
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    seconds = float(os.environ.get("FAKE_STAGE_SECONDS", "0.2"))
    log = Path(os.environ.get("FAKE_RUN_LOG", work_dir / "runs.log"))
    for i, stage in enumerate(STAGES):
        marker = work_dir / f"{stage}.done"
        if marker.exists():
            continue
        with log.open("a") as f:
            f.write(f"{stage}\n")
        if stage == os.environ.get("FAKE_FAIL_AT"):
            raise RuntimeError(f"only 2 of 40 images could be registered (in {stage})")
        if stage == "ingest":
            zipfile.ZipFile(zip_file).extractall(work_dir / "images")
        steps = 5
        for step in range(steps):
            time.sleep(seconds / steps)
            progress(stage, (i + (step + 1) / steps) / len(STAGES))
        marker.touch()
    result = work_dir / "result.zip"
    with zipfile.ZipFile(result, "w") as zf:
        zf.writestr("model.obj", "v 0 0 0\n")
        images = sorted(os.listdir(work_dir / "images"))
        zf.writestr("report.json", json.dumps({"images": images, "images_given": len(images),
                                               "images_registered": len(images),
                                               "reprojection_error_px": 0.5}))
        zf.writestr("options.json", json.dumps(options or {}))  # what the job passed
        # a report with a script in it, as a hostile or broken pipeline could write one
        zf.writestr("report.html", "<!doctype html><title>report</title><h1>fake report</h1>"
                                   "<script>document.title = 'script ran'</script>")
    return result
