"""Wire a simulated rig: the real rig code over gpiozero's mock pins, plus the physics.

Everything above the pins (Stepper, RingLight, Rig, the scan routine) is the production
code; only the pin factory, the clock and the camera are swapped, by injection.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from ..clock import RealClock, VirtualClock
from ..rig import Rig, build_mechanism
from ...scan.geometry import intrinsics_from_sensor
from .camera import SimulatedCamera
from .drivers import DriverPin, SimulatedMotor
from .scene import chessboard_scene, object_scene

SIM_RESOLUTION = (1280, 960)


def simulated_intrinsics(profile: dict, size=SIM_RESOLUTION):
    """The profile camera's nominal K, scaled to the simulated image size."""
    cam = profile["camera"]
    return intrinsics_from_sensor(size[0], size[1], cam.get("focal_length_mm", 4.28),
                                  cam.get("pixel_size_um", 1.22), cam.get("resolution", [4656])[0])


@dataclass
class SimulatedRig(Rig):
    """A Rig plus the simulated world behind its pins: `sim` holds the mock pin `factory` and
    the `rotor`/`turntable` mechanisms (their physical angles, missed steps), for tests."""
    sim: dict = field(default_factory=dict)


class SimulatedBackend:
    """hardware/backend.py's interface over the simulation: the world restarts where the rig
    was left, and renders the calibration board when one is asked for."""

    def __init__(self, scene: str | object = "object"):
        self.scene = scene

    def open_rig(self, profile: dict, *, last_position=None, calibration_board=None) -> Rig:
        scene = self.scene if calibration_board is None else chessboard_scene(profile["geometry"],
                                                                               calibration_board)
        return build_simulated_rig(profile, scene, start_angles=last_position)


def build_simulated_rig(profile: dict, scene: str | object = "object", *, size=SIM_RESOLUTION,
                        dist=None, seed: int = 0, real_time: bool = False,
                        start_angles: dict | None = None, samples: int | None = None) -> SimulatedRig:
    """A Rig whose pins drive simulated motors and whose camera renders `scene`
    ("object", "chessboard" or a Scene). With real_time=False the motion code runs on a
    virtual clock, so moves and settle pauses cost no wall time. `start_angles`
    ({"rotor": deg, "turntable": deg}) is where the simulated mechanism stands at power-up
    (a resumed simulated scan restarts the world where the rig was left)."""
    factory = MockFactory(pin_class=DriverPin)
    clock = RealClock() if real_time else VirtualClock()
    rotor_stepper, turntable_stepper, light = build_mechanism(profile, pin_factory=factory, clock=clock)
    pins, motors = profile["pins"], profile["motors"]
    endstops = pins.get("endstops") or {}
    # physics is attached after the devices claimed their pins (Button sets the pull-up)
    rotor = SimulatedMotor(factory, **pins["rotor"], steps_per_rev=motors["rotor"]["steps_per_rev"],
                           invert_direction=motors["rotor"].get("invert_direction", False),
                           endstop=endstops.get("rotor"),
                           endstop_angle=motors["rotor"].get("home_angle"),
                           start_angle=(start_angles or {}).get("rotor", 0.0))
    turntable = SimulatedMotor(factory, **pins["turntable"],
                               steps_per_rev=motors["turntable"]["steps_per_rev"],
                               invert_direction=motors["turntable"].get("invert_direction", False),
                               start_angle=(start_angles or {}).get("turntable", 0.0))
    if isinstance(scene, str):
        builders = {"object": lambda g: object_scene(g, seed=7 + seed), "chessboard": chessboard_scene}
        if scene not in builders:
            raise ValueError(f"unknown simulated scene {scene!r}")
        if samples is None:  # anti-alias sharp printed targets; the textured object does not need it
            samples = 2 if scene == "chessboard" else 1
        build, geometry = builders[scene], profile["geometry"]
        scene = lambda: build(geometry)  # noqa: E731  (built on first photo)
    elif samples is None:
        samples = 2 if scene.ground_truth is None else 1
    light_pins = [factory.pin(p) for p in pins.get("lights", [])]
    camera = SimulatedCamera(
        scene, simulated_intrinsics(profile, size), size, rotor=rotor, turntable=turntable,
        camera_distance_mm=profile["geometry"]["camera_distance_mm"], dist=dist,
        light_level=lambda: sum(float(p.state) for p in light_pins) / max(len(light_pins), 1),
        model=f"simulated {profile['camera'].get('model', 'camera')}", seed=seed, samples=samples)
    return SimulatedRig(profile, rotor_stepper, turntable_stepper, light, camera, clock,
                        sim={"factory": factory, "rotor": rotor, "turntable": turntable})
