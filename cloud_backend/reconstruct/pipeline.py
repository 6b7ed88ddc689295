"""Chain the stages: ingest -> features -> sfm -> dense -> mesh -> texture -> export.

Each stage module has `main(<its input and output paths>, options, progress) -> dict of
stats` and `run(layout, options, progress)`, which takes those paths from the job's one
Layout; the pipeline skips stages whose completion marker exists and records the same values
of the options the stage reads (options.STAGE_OPTIONS), so a job killed by the job system
resumes at the first unfinished stage, and a re-run in the same work folder with other options
(another quality, texture off, other formats) re-runs the first stage whose options changed and
every stage after it. Any stage also runs alone:
`python -m cloud_backend.reconstruct.<stage> WORK_DIR [KEY=JSON ...]`.
"""
import pathlib
import time

from . import ingest
from .errors import ReconstructionError
from .isolate import run_stage
from .layout import Layout
from .options import resolve
from .stage import clear_marker, is_current, mark_done

# (name, module, share of the overall time). Shares follow measured CPU
# timings so the overall fraction moves at a roughly even pace; every stage
# reports within itself so no single step jumps by more than ~10%.
# Stages after ingest run in their own interpreter (isolate.py), so they are
# named here, not imported: the job's process stays free of native libraries.
STAGES = [
    ("ingest", ingest, 0.03),
    ("features", "features", 0.22),
    ("sfm", "sfm", 0.15),
    ("dense", "dense", 0.30),
    ("mesh", "mesh", 0.10),
    ("texture", "texture", 0.15),
    ("export", "export", 0.05),
]


def run(zip_file, work_dir, options=None, progress=None):
    """Run every stage not yet finished under work_dir; return work_dir / "result.zip".

    zip_file: a path or a seekable binary file object of the uploaded zip
    (images flat at the root, optional manifest.json from the rig).
    options: plain dict overriding `options.DEFAULTS`.
    progress: callable(stage_name, overall_fraction 0..1).
    Raises ReconstructionError with a message a user can understand.
    """
    work_dir = pathlib.Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    opts = resolve(options)
    report = progress or (lambda stage, fraction: None)
    total = sum(w for _, _, w in STAGES)
    done_before = 0.0
    ran = False   # once a stage runs, every later one runs too: its inputs changed
    for index, (name, module, weight) in enumerate(STAGES):
        start = done_before / total
        span = weight / total
        if not ran and is_current(work_dir, name, opts):   # finished before with these options
            done_before += weight
            if name == "ingest":
                _check_masks(work_dir, opts)
            continue
        if not ran:   # results from here on are stale: a kill must not leave a later marker
            for later, _, _ in STAGES[index:]:
                clear_marker(work_dir, later)
        ran = True
        report(name, start)
        stage_progress = _stage_reporter(report, name, start, span)
        t0 = time.monotonic()
        if name == "ingest":   # pure Python; reads the (possibly in-memory) upload
            stats = module.main(work_dir, opts, stage_progress, zip_file=zip_file)
            _check_masks(work_dir, opts)
        elif name == "texture" and not opts["texture"]:   # untextured: export colours the vertices
            stats = {"skipped": "texture off"}
        else:
            stats = run_stage(module, work_dir, opts, stage_progress)
        stats = dict(stats or {}, seconds=round(time.monotonic() - t0, 3))
        mark_done(work_dir, name, stats, opts)
        done_before += weight
        report(name, done_before / total)
    result = Layout(work_dir).result
    if not result.exists():
        raise ReconstructionError("the result archive was not written")
    return result


def _check_masks(work_dir, opts):
    """masking='masks' promises object masks: fail before hours of work when the upload has none."""
    if opts["masking"] == "masks" and not ingest.read(Layout(work_dir).ingest)["masks"]:
        raise ReconstructionError(
            "masking is 'masks' but the upload holds no object masks (masks/<photo>.png); "
            "upload them or choose masking 'auto' or 'off'")


def _stage_reporter(report, name, start, span):
    """Map a stage's own 0..1 onto the overall scale, never moving backwards."""
    last = [start]

    def stage_progress(fraction):
        value = start + span * min(max(float(fraction), 0.0), 1.0)
        if value > last[0]:
            last[0] = value
            report(name, value)

    return stage_progress
