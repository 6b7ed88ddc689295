"""The scan's states and the one table of the moves between them. scan/controller.py makes
every change through its locked `_transition`, which refuses a move that is not listed here."""
from __future__ import annotations

from enum import StrEnum


class ScanState(StrEnum):
    STARTING = "starting"
    SCANNING = "scanning"
    PAUSING = "pausing"          # asked to pause; "paused" once the routine reaches a safe point
    PAUSED = "paused"
    CANCELLING = "cancelling"    # asked to stop; the current move or photo finishes first
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # found so at start-up: the process died mid-scan


S = ScanState
ENDINGS = {S.COMPLETE, S.CANCELLED, S.FAILED}     # how a run ends (a cancel may lose the race
                                                   # against the last photo: then it completes)
TRANSITIONS: dict[ScanState, set[ScanState]] = {
    S.STARTING: {S.SCANNING, S.PAUSING, S.CANCELLING, *ENDINGS},
    S.SCANNING: {S.PAUSING, S.PAUSED, S.CANCELLING, *ENDINGS},
    S.PAUSING: {S.PAUSED, S.SCANNING, S.CANCELLING, *ENDINGS},
    S.PAUSED: {S.SCANNING, S.CANCELLING, *ENDINGS},
    S.CANCELLING: set(ENDINGS),
    S.COMPLETE: set(), S.CANCELLED: set(), S.FAILED: set(), S.INTERRUPTED: set(),
}

# what the routine's progress events move, and only from these states (a "paused" that
# arrives after a cancel must not undo it)
EVENT_MOVES: dict[str, tuple[set[ScanState], ScanState]] = {
    "started": ({S.STARTING}, S.SCANNING),
    "photo": ({S.STARTING}, S.SCANNING),
    "paused": ({S.SCANNING, S.PAUSING}, S.PAUSED),
    "resumed": ({S.PAUSED}, S.SCANNING),
}


def can_move(old: ScanState, new: ScanState) -> bool:
    return new in TRANSITIONS[old]
