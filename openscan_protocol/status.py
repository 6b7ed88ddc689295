"""Project status strings of the OpenScanCloud protocol (PROTOCOL.md): clients in the field
compare them literally, so they are spelled here once."""

CREATED = "created"              # parts may be uploaded
INITIALIZED = "initialized"      # startProject accepted it; queued for processing
PROCESSING = "processing"
DONE = "processing done"
FAILED = "processing failed"
EXPIRED = "expired"

FINAL = (DONE, FAILED, EXPIRED)   # OpenScan2 stops polling on these (lower case)
