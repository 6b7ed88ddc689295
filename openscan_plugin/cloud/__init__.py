"""Sending scans to an OpenScanCloud server: packaging, the API client, the upload queue."""
