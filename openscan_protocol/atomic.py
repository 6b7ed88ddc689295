"""One way to replace a file so that a crash or power cut leaves the old file or the new one,
never half of either: write a temporary file in the same folder, fsync it, rename it over
the target, fsync the folder (without that the rename itself may be lost)."""
import contextlib
import os
from pathlib import Path


def fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:          # a platform or filesystem that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp, path):
    """Make `tmp` (written by someone else, e.g. a library) durable and rename it to `path`."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


@contextlib.contextmanager
def replacing(path, mode=None, text=False, suffix=".tmp"):
    """`with replacing(path) as f:` write to f; on success `path` is replaced whole, on an
    error the temporary file is removed and `path` left alone. `mode` (e.g. 0o600 for files
    holding tokens) is set before any byte is written."""
    path = Path(path)
    tmp = path.with_name(path.name + suffix)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "w" if text else "wb") as f:
            if mode is not None:
                os.fchmod(fd, mode)  # a leftover temporary file keeps its old mode through O_CREAT
            yield f
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_atomically(path, data, mode=None):
    """Replace `path` with `data` (bytes or str) in one step."""
    with replacing(path, mode, text=isinstance(data, str)) as f:
        f.write(data)
