"""A reconstruction that stops after the real ingest: its result zip carries ingest.json, so a
test sees what the job's ingest made of an upload (masks, skipped photos) in seconds."""
import zipfile
from pathlib import Path

from cloud_backend.reconstruct import ingest, options as reconstruction_options
from cloud_backend.reconstruct.layout import Layout


def run(zip_file, work_dir, options=None, progress=None):
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    ingest.main(work_dir, reconstruction_options.resolve(), zip_file=zip_file)
    progress("ingest", 1.0)
    result = work_dir / "result.zip"
    with zipfile.ZipFile(result, "w") as zf:
        zf.writestr("model.obj", "v 0 0 0\n")
        zf.write(Layout(work_dir).ingest, "ingest.json")
        for mask in sorted((work_dir / "masks").glob("*.png")):
            zf.write(mask, f"masks/{mask.name}")
    return result
