"""Photos of a scan -> textured, metric 3D model (see docs/reconstruction.md).

`run` is imported lazily so the job system can import ReconstructionError
without loading pycolmap/open3d into its parent process.
"""
from .errors import ReconstructionError


def run(zip_file, work_dir, options=None, progress=None):
    from .pipeline import run as _run

    return _run(zip_file, work_dir, options=options, progress=progress)


__all__ = ["run", "ReconstructionError"]
