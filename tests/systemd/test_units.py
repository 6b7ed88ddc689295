"""The unit files pass `systemd-analyze verify` (syntax, known keys, executables that exist) and
keep the promises the README makes about them."""
import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "systemd"
VENV_BIN = str(Path(sys.executable).parent)
# the units shipped in systemd/: a new one must be added here
UNIT_FILES = {"openscan-cloud-api.service", "openscan-cloud-beat.service", "openscan-cloud-worker@.service",
              "openscan-rig.service"}


def load(name):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read(UNITS / name)
    return cp


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify(tmp_path):
    for unit in UNITS.glob("*.service"):
        # point ExecStart at this venv so verify can check that the commands exist
        text = unit.read_text().replace("/opt/openscan-cloud/venv/bin", VENV_BIN) \
                               .replace("/opt/openscan/venv/bin", VENV_BIN)
        name = unit.name.replace("@.service", "@1.service")
        (tmp_path / name).write_text(text)
        if "@1" in name:  # the instance needs its template next to it
            (tmp_path / unit.name).write_text(text)
    units = sorted(str(p) for p in tmp_path.glob("*.service") if "@." not in p.name)
    # every unit is verified: the folder holds exactly these units (a .timer or .socket would
    # need adding to the glob above), and each one is on the command line
    assert {p.name for p in UNITS.iterdir()} == UNIT_FILES | {"README.md"}
    assert {Path(u).name for u in units} == {n.replace("@.", "@1.") for n in UNIT_FILES}
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True)
    # any warning (unknown key, key in the wrong section, missing executable) is a failure
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr


def test_rig_daemon_is_a_hardened_notify_service():
    s = load("openscan-rig.service")["Service"]
    assert s["Type"] == "notify" and int(s["WatchdogSec"]) > 0 and s["Restart"] == "on-failure"
    assert s["ExecStart"].split()[1:2] == ["daemon"]
    assert s["User"] == "openscan" and s["NoNewPrivileges"] == "yes" and s["PrivateTmp"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["ReadWritePaths"] == "/var/lib/openscan"
    assert s["Environment"]  # data dir, scans and config inside the writable state dir
    # configparser keeps only the last Environment= line: read them all from the text
    env = dict(assignment.split("=", 1)
               for line in (UNITS / "openscan-rig.service").read_text().splitlines()
               if line.startswith("Environment=")
               for assignment in shlex.split(line[len("Environment="):]))
    assert set(env) == {"OPENSCAN_DATA_DIR", "OPENSCAN_SCANS_DIR", "OPENSCAN_CONFIG"}
    writable = Path(s["ReadWritePaths"])
    for name, value in env.items():
        assert Path(value) == writable or writable in Path(value).parents, (name, value)


def test_backend_units_split_api_and_workers():
    api, worker = load("openscan-cloud-api.service")["Service"], load("openscan-cloud-worker@.service")["Service"]
    assert "--no-worker" in api["ExecStart"] and worker["ExecStart"].endswith("worker")
    assert api["ExecStartPre"].endswith(" migrate")  # the one step that changes the schema
    for s in (api, worker):
        assert s["User"] == "openscan-cloud" and s["ProtectSystem"] == "strict"
        assert s["Restart"] == "on-failure" and s["NoNewPrivileges"] == "yes"
