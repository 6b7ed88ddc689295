import pytest
from gpiozero.pins.mock import MockFactory

from openscan_plugin.config import load_profile


@pytest.fixture
def mock_factory():
    factory = MockFactory()
    yield factory
    factory.reset()


@pytest.fixture(scope="session")
def mini_profile():
    return load_profile("mini", config={})


@pytest.fixture(scope="session")
def small_scene(mini_profile):
    """A coarser stone (fewer triangles) for tests that need many renders, built once."""
    from openscan_plugin.hardware.sim.scene import object_scene
    return object_scene(mini_profile["geometry"], subdivisions=5)


@pytest.fixture(scope="session")
def full_scene(mini_profile):
    from openscan_plugin.hardware.sim.scene import object_scene
    return object_scene(mini_profile["geometry"])
