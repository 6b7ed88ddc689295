"""The scan's state machine under fire: pause, resume and cancel from several threads (the page,
the button, the CLI) while the scan's own progress events arrive. Every change the scan shows
must be a move a person could explain, and the scan must end in an outcome."""
import random
import sys
import threading

import pytest

from openscan_plugin.scan.controller import Busy
from openscan_plugin.scan.job import ScanJob
from tests.web.test_scan_controller import controller, rig_profile  # noqa: F401  (fixtures)

RUNNING = {"starting", "scanning", "pausing", "paused"}
OUTCOMES = {"complete", "cancelled", "failed"}
# the spec, written out independently of scan/states.py: from -> the states it may become
LEGAL = {
    "starting": {"scanning", "pausing", "cancelling"} | OUTCOMES,
    "scanning": {"pausing", "paused", "cancelling"} | OUTCOMES,
    "pausing": {"paused", "scanning", "cancelling"} | OUTCOMES,
    "paused": {"scanning", "cancelling"} | OUTCOMES,
    "cancelling": OUTCOMES,                    # nothing undoes a cancel
    "complete": set(), "cancelled": set(), "failed": set(),
}


@pytest.fixture
def recorded_moves(monkeypatch):
    """Every change of any ScanJob's state, as (job, old, new)."""
    moves, plain = [], ScanJob.__setattr__

    def record(job, key, value):
        if key == "state" and "state" in job.__dict__ and str(job.__dict__["state"]) != str(value):
            moves.append((job.name, str(job.__dict__["state"]), str(value)))
        plain(job, key, value)
    monkeypatch.setattr(ScanJob, "__setattr__", record)
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)                # switch threads as often as the interpreter can
    yield moves
    sys.setswitchinterval(old_interval)


def test_pause_resume_cancel_race_the_events_without_illegal_moves(controller, recorded_moves):  # noqa: F811
    rng = random.Random(14)
    jobs = []
    for round_ in range(8):
        job = controller.start({"preset": "custom", "points": 40, "upload": False, "name": f"r{round_}"})
        jobs.append(job)
        stop = threading.Event()

        def hammer(seed):                      # the page and the button, pausing and resuming
            pick = random.Random(seed)
            while not stop.is_set() and job.running:
                try:
                    pick.choice([controller.pause, controller.resume])()
                except Busy:
                    pass
                stop.wait(pick.random() * 0.003)
        threads = [threading.Thread(target=hammer, args=(rng.random(),)) for _ in range(3)]
        for t in threads:
            t.start()
        stop.wait(rng.uniform(0.05, 0.4))
        if round_ % 2:                         # half the scans are cancelled mid-hammering
            try:
                controller.cancel()
            except Busy:
                pass
            stop.wait(0.05)
        stop.set()
        for t in threads:
            t.join(10)
        try:
            controller.resume()                # let a paused scan run to its end
        except Busy:
            pass
        assert job.wait(60), f"scan {job.name} never ended (state {job.state})"
        assert str(job.state) in OUTCOMES
    illegal = [m for m in recorded_moves if m[2] not in LEGAL[m[1]]]
    assert not illegal, f"illegal moves: {illegal[:10]}"
    assert {m[0] for m in recorded_moves} == {j.name for j in jobs}
