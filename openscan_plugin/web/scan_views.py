"""What the scan page (and `openscan rig status`) shows of the rig: the controller's state, the
scan, the motors, the camera, the finished scan's upload and model files, as JSON-ready dicts.
Views only: nothing here changes the rig."""
from __future__ import annotations

from .scans import model_files


def camera_view(controller) -> dict:
    s, camera = controller.setup.camera_settings, controller.rig.camera
    return {"exposure_us": s.exposure_us, "analogue_gain": s.analogue_gain, "autofocus": s.autofocus,
            "lens_position": camera.lens_position if s.lens_position is None else s.lens_position,
            "focus_stack": s.focus_stack, "model": camera.model, "resolution": list(camera.resolution)}


def rig_status(controller, service=None) -> dict:
    """The rig's state for front ends; with `service` (the cloud service) the upload of a
    completed scan too."""
    rig, job, state = controller.rig, controller.job, controller.state
    rotor, turntable = rig.angles
    out = {"state": state, "version": controller.version, "busy": state != "idle",
           "scan": job.view() if job else None, "upload": None,
           "light": bool(rig.light.is_lit),
           "angles": {"rotor": round(rotor, 2), "turntable": round(turntable % 360.0, 2)},
           "rotor_limits": [rig.rotor.min_angle, rig.rotor.max_angle],
           "can_home": getattr(rig.rotor, "endstop", None) is not None,
           "camera": camera_view(controller)}
    if job and job.state == "complete" and service is not None:
        entry = service.queue.latest(job.folder)
        out["upload"] = service.view(entry) if entry else None
    return out


def page_status(controller, service=None) -> dict:
    """rig_status plus the finished scan's model files, for the page (pushed on every change)."""
    s = rig_status(controller, service)
    job = controller.job
    if job is not None and not job.running and job.folder.is_dir():
        s["model"] = model_files(job.folder)
    return s
