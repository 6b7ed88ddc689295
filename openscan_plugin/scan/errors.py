"""The two refusals every scan front end shows a person: the request is wrong (the web answers
400 with the message), or the rig is busy (409). Anything else is a fault, not a refusal."""


class InvalidRequest(ValueError):
    """A scan, camera or motor request that fails its checks; the message says what to fix."""


class Busy(RuntimeError):
    """The rig is doing something else (a scan, a move): answered with 409."""
