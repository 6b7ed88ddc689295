"""The scan routine on the simulated rig: manifest vs. ground truth, stacks, pause/cancel/resume."""
import json
import threading

import numpy as np
import pytest

from openscan_plugin.hardware.camera import CameraSettings
from openscan_plugin.hardware.sim.rig import build_simulated_rig
from openscan_plugin.scan.geometry import camera_centre
from openscan_plugin.scan.manifest import SCHEMA_VERSION, Manifest, ManifestError
from openscan_plugin.scan.path import plan_scan
from openscan_plugin.scan.routine import ScanCancelled, ScanRoutine, read_position

SMALL = (320, 240)


def sim(profile, scene, **kw):
    return build_simulated_rig(profile, scene, size=SMALL, **kw)


def check_against_ground_truth(folder, distance):
    m = Manifest.load(folder)
    gt = json.loads((folder / "ground_truth" / "cameras.json").read_text())
    for p in m.photos:
        true_centre = np.array(gt["photos"][p["file"]]["centre"])
        assert np.linalg.norm(camera_centre(p["rotor_deg"], p["turntable_deg"], distance) - true_centre) < 1e-3
    return m


def test_scan_folder_holds_photos_and_a_manifest_that_matches_ground_truth(mini_profile, small_scene, tmp_path):
    profile = dict(mini_profile, calibration={"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "dist": [0] * 5})
    rig = sim(profile, small_scene)
    plan = plan_scan(profile, 10)
    events = []
    ScanRoutine(rig, tmp_path, plan=plan, on_event=events.append).run()
    m = check_against_ground_truth(tmp_path, profile["geometry"]["camera_distance_mm"])
    assert m.data["schema_version"] == SCHEMA_VERSION and m.data["status"] == "complete"
    assert [p["index"] for p in m.photos] == list(range(10))
    assert sorted(f.name for f in tmp_path.glob("*.jpg")) == sorted(p["file"] for p in m.photos)
    assert m.data["intrinsics"]["K"][0][0] == 1  # the calibration travels with the scan
    assert np.allclose(m.data["camera"]["nominal_K"], rig.camera.K)  # uncalibrated prior = the lens
    assert m.data["camera"]["resolution"] == list(SMALL) == m.data["camera"]["settings"]["resolution"]
    assert (tmp_path / "ground_truth" / "mesh.ply").stat().st_size > 10000
    # planned and recorded angles agree to a step
    for p, (r, t) in zip(m.photos, plan.points):
        assert p["rotor_deg"] == pytest.approx(r, abs=0.01)
        assert (p["turntable_deg"] - t + 180) % 360 - 180 == pytest.approx(0, abs=0.12)
    photos = [e for e in events if e.kind == "photo"]
    assert [e.done for e in photos] == list(range(1, 11)) and photos[-1].eta_s == 0
    assert not rig.light.is_lit and not rig.rotor.enable.is_active  # light off, motors released
    rig.close()


def test_virtual_motion_time_matches_the_plan_estimate(mini_profile, small_scene, tmp_path):
    rig = sim(mini_profile, small_scene)
    plan = plan_scan(mini_profile, 15)
    ScanRoutine(rig, tmp_path, plan=plan).run()
    # the virtual clock only advances for ramps, homing and settle pauses
    settle = 15 * mini_profile["motors"]["rotor"]["settle_s"]
    homing = 20 * 48000 / 360 / mini_profile["motors"]["rotor"]["homing_speed"]
    assert rig.clock.now() == pytest.approx(plan.move_s + settle + homing, rel=0.02)
    rig.close()


def test_focus_stack_takes_several_lens_positions_per_point(mini_profile, small_scene, tmp_path):
    rig = sim(mini_profile, small_scene)
    settings = CameraSettings.from_profile(mini_profile["camera"])
    settings.focus_stack, settings.focus_stack_step = 3, 0.5
    plan = plan_scan(mini_profile, 3, photos_per_point=3)
    m = ScanRoutine(rig, tmp_path, plan=plan, settings=settings).run()
    assert len(m.photos) == 9 and len({p["file"] for p in m.photos}) == 9
    lenses = [p["lens_position"] for p in m.photos if p["index"] == 0]
    assert np.allclose(np.diff(lenses), 0.5)
    rig.close()


def test_pause_resume_and_cancel_from_another_thread_then_resume_the_scan(mini_profile, small_scene, tmp_path):
    rig = sim(mini_profile, small_scene)
    plan = plan_scan(mini_profile, 8)
    kinds = []
    routine = None

    def on_event(e):
        kinds.append(e.kind)
        if e.kind == "photo" and e.done == 2:
            routine.pause()
            threading.Timer(0.2, routine.resume).start()
        if e.kind == "photo" and e.done == 5:
            threading.Thread(target=routine.cancel).start()

    routine = ScanRoutine(rig, tmp_path, plan=plan, on_event=on_event)
    with pytest.raises(ScanCancelled):
        routine.run()
    assert "paused" in kinds and "resumed" in kinds and kinds[-1] == "cancelled"
    m = Manifest.load(tmp_path)
    assert m.data["status"] == "cancelled" and 5 <= len(m.photos) < 8
    position = read_position(tmp_path)
    rig.close()
    # a new process (new simulated world, standing where the rig stopped) finishes the scan
    rig2 = sim(mini_profile, small_scene, start_angles=position)
    m = ScanRoutine(rig2, tmp_path).run(resume=True)
    assert sorted(p["index"] for p in m.photos) == list(range(8)) and m.data["status"] == "complete"
    check_against_ground_truth(tmp_path, mini_profile["geometry"]["camera_distance_mm"])
    rig2.close()


def test_new_scan_refuses_a_folder_that_holds_one(mini_profile, small_scene, tmp_path):
    rig = sim(mini_profile, small_scene)
    ScanRoutine(rig, tmp_path, plan=plan_scan(mini_profile, 1)).run()
    with pytest.raises(ManifestError, match="resume"):
        ScanRoutine(rig, tmp_path, plan=plan_scan(mini_profile, 1)).run()
    rig.close()
