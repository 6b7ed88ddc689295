"""Top-level conftest: no shared fixtures; each test package has its own conftest.py."""
