"""Rate limits kept in the database, so they hold across threads, processes and API servers:
a count per key and fixed time window, raised by one conditional UPDATE that refuses to pass
the limit (the same mechanism as credit, cloud_backend/credit.py)."""
import time

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from .models import RateCount


def allow(db, key, limit, window_seconds):
    """Count one event for ``key``; False (nothing counted) when ``limit`` events already
    happened in the current window."""
    start = int(time.time()) // window_seconds * window_seconds
    try:
        with db.session() as session:  # the window's row, created once by whoever comes first
            session.add(RateCount(key=key, window=start, count=0))
    except IntegrityError:
        pass
    with db.session() as session:
        counted = session.execute(
            update(RateCount).where(RateCount.key == key, RateCount.window == start,
                                    RateCount.count < limit).values(count=RateCount.count + 1))
        session.execute(delete(RateCount).where(RateCount.key == key, RateCount.window < start))
        return counted.rowcount == 1
