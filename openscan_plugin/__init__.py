"""OpenScan rig plugin: drives an OpenScan Classic/Mini from its Raspberry Pi."""

__version__ = "0.1.0"
