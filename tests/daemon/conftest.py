from tests.rig_upload.conftest import backend  # noqa: F401  (a real backend per test)
