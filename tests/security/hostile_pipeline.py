"""A reconstruction stand-in for a hostile server: its result zip is what the file named by
$HOSTILE_RESULT_FILE says (so one server serves every test). `bomb`: 40 MB of zeros in ~40 KB;
`escape`: a name that climbs out of the model folder; `crowd`: 3000 tiny files; `plain`: a
harmless model."""
import os
import zipfile
from pathlib import Path

ZEROS = bytes(1 << 20)


def run(zip_file, work_dir, options=None, progress=None):
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    progress("export", 1.0)
    result = work_dir / "result.zip"
    kind = Path(os.environ["HOSTILE_RESULT_FILE"]).read_text().strip()
    with zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.obj", "v 0 0 0\n")
        if kind == "bomb":
            with zf.open("texture.png", "w", force_zip64=True) as f:
                for _ in range(40):
                    f.write(ZEROS)
        elif kind == "escape":
            zf.writestr("../../escaped.txt", "outside the model folder")
        elif kind == "crowd":
            for i in range(3000):
                zf.writestr(f"tiles/{i}.txt", "x")
    return result
