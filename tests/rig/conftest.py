import pytest
from gpiozero.pins.mock import MockFactory


@pytest.fixture
def mock_factory():
    factory = MockFactory()
    yield factory
    factory.reset()
