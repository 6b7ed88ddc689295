"""Recognising a full disk, wherever it surfaces: a file write (ENOSPC, or EDQUOT for a quota)
or a database that could not grow (SQLite's SQLITE_FULL, PostgreSQL's disk_full)."""
import errno

SQLITE_FULL = 13
PG_DISK_FULL = "53100"


def is_disk_full(exc):
    """True when ``exc``, or an exception it was raised from, says the storage is full."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        driver_error = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's exception
        if (getattr(driver_error, "sqlite_errorcode", None) == SQLITE_FULL
                or getattr(driver_error, "sqlstate", None) == PG_DISK_FULL):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
