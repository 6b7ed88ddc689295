"""The rig side's composition root: the one module that builds the process's parts, in the
order they depend on each other: rig profile -> hardware backend -> rig -> cloud service ->
scan controller -> GPIO trigger. The command-line modules only parse arguments and call in
here; nothing in here imports a command-line module, and nothing below imports this one."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from .config import load_profile
from .hardware.backend import RigBackend, choose_backend

if TYPE_CHECKING:
    from .hardware.rig import Rig

log = logging.getLogger(__name__)


class QueueTaken(RuntimeError):
    """Another daemon works the upload queue of this data dir."""


@dataclass
class RigChoice:
    """Which rig this process drives: the loaded rig profile and the backend chosen once."""
    profile: dict
    backend: RigBackend

    def open(self, *, last_position: Optional[dict] = None, calibration_board=None) -> Rig:
        return self.backend.open_rig(self.profile, last_position=last_position,
                                     calibration_board=calibration_board)


def choose_rig(profile: str | None, shield: str | None, config_file: str | None,
               simulate: bool) -> RigChoice:
    """Load the rig profile and pick the backend. Raises config.ConfigError."""
    return RigChoice(load_profile(profile, shield, config_file), choose_backend(simulate))


@dataclass
class ScanSide:
    """What `openscan daemon` adds to the cloud panel: a scan controller on the rig (shared by
    the scan page and the button) and, with `button`, the GPIO trigger."""
    rig: RigChoice
    button: bool = True
    points: Optional[int] = None          # positions of a scan the button starts

    @property
    def rig_required(self) -> bool:
        """The button needs the rig; the scan page alone may go without (no picamera2: the
        machine still serves the cloud panel)."""
        return self.button


@dataclass
class RigProcess:
    """The parts of one `openscan serve`/`daemon` process, built by `open_process`."""
    service: object                       # cloud.service.CloudService
    controller: object = None             # scan.controller.ScanController, or None (no rig)
    trigger: object = None                # trigger.Trigger, or None (no button)

    def stop_scanning(self) -> None:
        """First step of shutdown: cancel a running scan (resumable from its folder)."""
        if self.controller is not None:
            self.controller.close()

    def close(self) -> None:
        """The rest of shutdown, after the web server stopped."""
        if self.trigger is not None:
            self.trigger.stop()
        if self.controller is not None:
            self.controller.rig.close()
        self.service.stop()


def open_process(settings, scan_side: Optional[ScanSide], *, own_queue: bool = True,
                 say: Callable[[str], None] = print) -> RigProcess:
    """Cloud service (and its queue worker), then the scan controller, then the button.
    Without `own_queue` (`openscan serve`) a daemon already working the queue is fine: this
    process only queues. `say` reports to the person who started the process."""
    from .cloud.service import CloudService
    service = CloudService(settings)
    if not service.start_worker():
        if own_queue:
            service.stop()
            raise QueueTaken(f"another openscan daemon works the queue in {settings.data_dir}")
        say("the daemon works the upload queue; this panel queues uploads for it")
    process = RigProcess(service)
    try:
        if scan_side is not None:
            process.controller = open_controller(scan_side, service, say)
            if scan_side.button and process.controller is not None:
                process.trigger = open_trigger(scan_side, service, process.controller)
    except BaseException:
        process.stop_scanning()
        process.close()
        raise
    return process


def open_controller(scan_side: ScanSide, service, say: Callable[[str], None] = print):
    """The process's one ScanController (page and button share it), or None when the rig
    cannot be opened and nothing requires it."""
    from .scan.controller import ScanController
    try:
        rig = scan_side.rig.open()
    except Exception as exc:
        if scan_side.rig_required:
            raise
        say(f"no scan control: {exc}")
        return None
    return ScanController(rig, service)


def open_trigger(scan_side: ScanSide, service, controller):
    """The GPIO button on the controller's rig, or None when the profile wires none."""
    from .trigger import trigger_from_profile
    return trigger_from_profile(scan_side.rig.profile, service, controller, points=scan_side.points)
