"""The backend fixtures (real servers on loopback) serve the security tests too."""
from ..backend.conftest import client, server, start_server  # noqa: F401  (pytest fixtures)
