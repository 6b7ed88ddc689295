"""Stages run in a child interpreter: results, bugs and crashes come back to the job."""
import signal

import pytest

from cloud_backend.reconstruct import isolate
from cloud_backend.reconstruct.errors import ReconstructionError


def test_a_bug_in_a_stage_comes_back_with_its_traceback(tmp_path):
    outcome, value, cpu = isolate._run_once("no_such_stage", str(tmp_path), {}, lambda f: None)
    assert outcome == "exception" and "ModuleNotFoundError" in value
    assert cpu > 0   # the child's CPU time is measured


def test_a_child_killed_by_a_signal_is_reported_as_a_crash(tmp_path, monkeypatch):
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\nkill -SEGV $$\n")
    fake_python.chmod(0o755)
    monkeypatch.setattr(isolate.sys, "executable", str(fake_python))
    outcome, value, _ = isolate._run_once("mesh", str(tmp_path), {}, lambda f: None)
    assert outcome == "crashed" and value == f"exit code {-signal.SIGSEGV}"


def test_a_crash_is_retried_once_then_explained(tmp_path, monkeypatch):
    calls = []

    def crashed(name, work_dir, options, progress):
        calls.append(name)
        return "crashed", "exit code -11", 0.0

    monkeypatch.setattr(isolate, "_run_once", crashed)
    with pytest.raises(ReconstructionError, match="the mesh step crashed"):
        isolate.run_stage("mesh", tmp_path, {}, lambda f: None)
    assert calls == ["mesh", "mesh"]
