"""OpenScan Cloud backend: a drop-in OpenScanCloud server (see docs/protocol.md)."""

__version__ = "0.1.0"
