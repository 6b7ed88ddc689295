from tests.cloud.conftest import backend  # noqa: F401  (a real backend per test)
