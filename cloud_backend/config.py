"""Settings: embedded defaults, overridden by environment variables and by the caller.

Every setting can be given as ``OPENSCAN_CLOUD_<NAME>`` in the environment. The defaults make one
box work with nothing but a data directory: SQLite, blobs in a local folder, an in-process worker.
"""
import json
import os
import secrets
from pathlib import Path

from openscan_protocol import upload as upload_layout

DEFAULTS = {
    "DATA_DIR": "./data",
    "DATABASE_URL": None,          # default: sqlite:///<DATA_DIR>/openscan.db
    "STORAGE_URL": None,           # default: file://<DATA_DIR>/blobs; or s3://bucket/prefix
    "S3_ENDPOINT_URL": None,       # an S3-compatible service (credentials: the AWS_* variables)
    "S3_REGION": None,
    "SECRET_KEY": None,            # default: generated once into <DATA_DIR>/secret_key
    "PUBLIC_URL": None,            # base of ulink/dlink; default: the URL the client used,
    "ALLOWED_HOSTS": "",           # if its host name is loopback or listed here (a,b,c)
    "AUTH_USER": "openscan",       # HTTP Basic auth of the field clients
    "AUTH_PASSWORD": "free",
    "PART_SIZE": upload_layout.PART_SIZE,
    "LINK_MAX_AGE": 4 * 3600,      # seconds an upload link stays valid
    "DOWNLOAD_MAX_AGE": 3600,      # seconds a presigned result URL (object storage) is valid;
                                   # dlink itself lasts as long as the result
    "TOKEN_ISSUE": "auto",         # "auto": requestToken issues at once; "approve": admin approves
    # requestToken calls allowed per TOKEN_REQUEST_WINDOW seconds, per client address and per
    # mail address (more: 429); one request per mail address may wait for approval
    "TOKEN_REQUESTS_PER_CLIENT": 10,
    "TOKEN_REQUESTS_PER_MAIL": 3,
    "TOKEN_REQUEST_WINDOW": 24 * 3600,
    "DEFAULT_CREDIT": 50_000_000_000,
    "DEFAULT_LIMIT_PHOTOS": 1000,
    "DEFAULT_LIMIT_FILESIZE": 10_000_000_000,
    "MAX_IMAGE_BYTES": 200_000_000,  # one unpacked image; anything larger is a zip bomb
    "MAX_COMPRESSION_RATIO": 20,     # JPEG/PNG barely compress; a high ratio means a bomb
    "MAX_IMAGE_PIXELS": 120_000_000, # one photo, as its header declares (largest sensors: ~108 MP)
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "OpenScan Cloud <noreply@localhost>",
    "DEFAULT_JOB_SECONDS": 600.0,    # queue estimate before any job has finished
    "JOB_QUEUE": "embedded",         # "embedded" (worker polls the database) or "celery"
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "GPU_QUEUE": None,               # Celery queue for CUDA workers; jobs go there when set
    "STALE_JOB_SECONDS": 60,         # a running job without heartbeat this long is requeued
    "PROJECT_MAX_AGE_DAYS": 30,      # then a project expires and its data is deleted
    # without the user's consent, photos and work files go this long after the result's first
    # download (the result zip stays until expiry); see docs/protocol.md, "Your photos"
    "PHOTO_GRACE_HOURS": 24.0,
    "HOUSEKEEPING_SECONDS": 3600.0,  # how often the worker expires projects and deletes photos
    # webhooks: POST when a project ends (docs/protocol.md); attempts with exponential backoff
    "WEBHOOK_ATTEMPTS": 5,           # 1 + 4 retries after 2, 4, 8, 16 s (WEBHOOK_BACKOFF doubling)
    "WEBHOOK_BACKOFF": 2.0,
    "WEBHOOK_TIMEOUT": 10.0,         # seconds per attempt
    "WEBHOOK_ALLOW_PRIVATE": False,  # True: also loopback/private addresses (tests, a LAN-only box)
    # The module whose run(zip_file, work_dir, options, progress) turns photos into a model,
    # and its options (a JSON object; see cloud_backend/reconstruct/options.py).
    "PIPELINE": "cloud_backend.reconstruct.pipeline",
    "RECONSTRUCTION_OPTIONS": {},
}

_INT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, int) and not isinstance(v, bool)}
_FLOAT_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, float)}
_BOOL_KEYS = {k for k, v in DEFAULTS.items() if isinstance(v, bool)}


def _parse(key, raw):
    if isinstance(DEFAULTS[key], dict):
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise ValueError(f"OPENSCAN_CLOUD_{key} must be a JSON object")
        return value
    if key in _BOOL_KEYS:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if key in _INT_KEYS:
        return int(raw)
    if key in _FLOAT_KEYS:
        return float(raw)
    return raw


def load(overrides=None, environ=None):
    """Return the complete settings mapping: defaults < environment < overrides."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        raw = environ.get(f"OPENSCAN_CLOUD_{key}")
        if raw is not None:
            settings[key] = _parse(key, raw)
    settings.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings["RECONSTRUCTION_OPTIONS"] = dict(settings["RECONSTRUCTION_OPTIONS"])

    data_dir = Path(settings["DATA_DIR"]).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    settings["DATA_DIR"] = str(data_dir)
    settings["DATABASE_URL"] = settings["DATABASE_URL"] or f"sqlite:///{data_dir / 'openscan.db'}"
    settings["STORAGE_URL"] = settings["STORAGE_URL"] or f"file://{data_dir / 'blobs'}"
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or _secret_key(data_dir / "secret_key")
    return settings


def to_environ(settings):
    """The settings as environment variables, for a child process that calls load()."""
    return {f"OPENSCAN_CLOUD_{k}": json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in settings.items() if v is not None}


def _secret_key(path):
    """The server secret signs upload and download links, so it must survive restarts."""
    if not path.exists():
        # Written aside and linked into place: two processes starting at once agree on one key.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
