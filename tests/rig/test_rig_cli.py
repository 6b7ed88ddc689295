"""The `openscan` command end to end on the simulated rig (subprocess where a kill is needed)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from openscan_plugin.cli import main
from openscan_plugin.hardware.sim.rig import simulated_intrinsics
from openscan_plugin.scan.geometry import camera_centre

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_killed_scan_resumes_with_nothing_lost_or_duplicated(tmp_path):
    out = tmp_path / "scan"
    cmd = [sys.executable, "-m", "openscan_plugin.cli", "scan", "--simulate", "--points", "14", "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENSCAN_CONFIG=str(tmp_path / "none.json"))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / "manifest.json"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:  # wait until a few photos are in, then pull the plug
            if manifest.exists():
                try:
                    if len(json.loads(manifest.read_text())["photos"]) >= 4:
                        break
                except ValueError:
                    pass  # cannot happen with atomic saves; a failure shows as a timeout
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    before = json.loads(manifest.read_text())["photos"]
    assert 4 <= len(before) < 14, "the scan finished before it could be killed"
    res = subprocess.run(cmd + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    m = json.loads(manifest.read_text())
    assert [p["index"] for p in sorted(m["photos"], key=lambda p: p["index"])] == list(range(14))
    assert m["photos"][:len(before)] == before  # what was complete stays untouched
    assert sorted(f.name for f in out.glob("*.jpg")) == sorted(p["file"] for p in m["photos"])
    assert not list(out.glob("*.part")) and m["status"] == "complete"
    gt = json.loads((out / "ground_truth" / "cameras.json").read_text())
    D = m["geometry"]["camera_distance_mm"]
    for p in m["photos"]:
        c = camera_centre(p["rotor_deg"], p["turntable_deg"], D)
        assert np.linalg.norm(c - gt["photos"][p["file"]]["centre"]) < 1e-3


def test_calibrate_recovers_the_simulated_focal_length_and_scans_carry_it(tmp_path, mini_profile):
    cfg = tmp_path / "rig.json"
    res = run_cli("calibrate", "--simulate", "--config", str(cfg), "--views", "10")
    assert res.exit_code == 0, res.output
    cal = json.loads(cfg.read_text())["calibration"]
    K_true = simulated_intrinsics(mini_profile)
    K = np.array(cal["K"])
    assert K[0, 0] == pytest.approx(K_true[0, 0], rel=0.02) and K[1, 1] == pytest.approx(K_true[1, 1], rel=0.02)
    assert K[:2, 2] == pytest.approx(K_true[:2, 2], abs=15)
    assert cal["rms_px"] < 0.5 and cal["views"] >= 8
    res = run_cli("scan", "--simulate", "--config", str(cfg), "--points", "2", "--out", str(tmp_path / "s"))
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["intrinsics"]["K"] == cal["K"]


@pytest.mark.parametrize("args, message", [
    (["scan", "--simulate", "--profile", "maxi", "--out", "X"], "unknown profile 'maxi'"),
    (["scan", "--simulate", "--out", "X", "--resume"], "nothing to resume"),
    (["scan", "--simulate", "--mode", "turntable", "--rings", "85", "--out", "X"], "outside the rotor range"),
    (["move", "--simulate", "--rotor", "120"], "above the soft limit"),
    (["move", "--simulate"], "give --rotor"),
])
def test_bad_input_gets_one_clear_error_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "X" else a for a in args]
    res = CliRunner().invoke(main, args, env={"OPENSCAN_CONFIG": str(tmp_path / "none.json")})
    assert res.exit_code != 0 and message in res.output and "Traceback" not in res.output


def test_move_and_photo_on_the_simulated_rig(tmp_path):
    env = {"OPENSCAN_CONFIG": str(tmp_path / "none.json")}
    res = CliRunner().invoke(main, ["move", "--simulate", "--rotor", "30", "--turntable", "90"], env=env)
    assert res.exit_code == 0 and "rotor 30.00 deg, turntable 90.00 deg" in res.output
    photo = tmp_path / "p.jpg"
    res = CliRunner().invoke(main, ["photo", "--simulate", str(photo)], env=env)
    assert res.exit_code == 0 and photo.stat().st_size > 20000
