"""Firing requests at the same instant, as an attacker with many connections does."""
import threading
from concurrent.futures import ThreadPoolExecutor


def at_once(n, call):
    """Run ``call(i)`` for i in range(n) from n threads released together; the results in order."""
    barrier = threading.Barrier(n)

    def go(i):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(go, range(n)))


def codes(responses):
    return sorted(r.status_code for r in responses)
