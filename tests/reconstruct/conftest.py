import pathlib

import cv2  # noqa: F401  (before pycolmap: PNG writing aborts otherwise)
import pytest

# CI and the dev machines keep shared/ beside the clone (../shared/datasets).
DATASETS = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


@pytest.fixture(scope="session")
def run_until_sfm():
    """run_until_sfm(zip_file, work, opts) -> (SfM stats, reconstruction): ingest, features and
    SfM of `zip_file` (a path or a file object) in the folder `work`, as a job runs them."""
    from cloud_backend.reconstruct import features, ingest, options, sfm
    from cloud_backend.reconstruct.layout import Layout
    from cloud_backend.reconstruct.stage import mark_done

    def run(zip_file, work, opts):
        opts = options.resolve(opts)
        mark_done(work, "ingest", ingest.main(work, opts, zip_file=zip_file))
        mark_done(work, "features", features.run(Layout(work), opts))
        stats = sfm.run(Layout(work), opts)
        return stats, sfm.load(Layout(work).sparse)

    return run


@pytest.fixture(scope="session")
def fast_options():
    """Small but real settings: every stage runs its normal code path."""
    return {"mesh_faces": 5000, "texture_size": 512, "poisson_depth": 8, "max_image_size": 800, "preview_size": 320}


@pytest.fixture(scope="session")
def synthetic_scan():
    """A rendered 36-photo turntable scan with a full rig manifest (zip bytes, cameras)."""
    from cloud_backend.reconstruct import synthetic

    buf, cams = synthetic.scan_zip(18, (20.0, 45.0), 480, 360, manifest="full")
    return buf.getvalue(), cams


@pytest.fixture
def dataset():
    """dataset(name) -> folder under ../shared/datasets; skips the test when it is absent."""

    def find(name):
        path = DATASETS / name
        if not path.exists():
            pytest.skip(f"dataset {name} not available")
        return path

    return find
