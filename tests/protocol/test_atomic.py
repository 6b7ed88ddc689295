"""The one atomic write: a crash leaves the old file or the new one, the data and the rename
reach the disk (fsync of the file, then of its folder), and token files are never readable
by others, not even for a moment."""
import json
import os
import stat

import pytest

from openscan_plugin.config import write_user_config
from openscan_plugin.scan import routine
from openscan_protocol.atomic import replacing, write_atomically


@pytest.fixture
def fsynced(monkeypatch):
    """The paths fsync was called on, in order."""
    paths, real = [], os.fsync

    def record(fd):
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)
    monkeypatch.setattr(os, "fsync", record)
    return paths


def test_the_file_then_its_folder_reach_the_disk(tmp_path, fsynced):
    write_atomically(tmp_path / "a.json", "{}")
    assert (tmp_path / "a.json").read_text() == "{}"
    assert fsynced == [str(tmp_path / "a.json.tmp"), str(tmp_path)]
    assert list(tmp_path.iterdir()) == [tmp_path / "a.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    write_atomically(target, b"old")

    class Boom(Exception):
        pass
    with pytest.raises(Boom):
        with replacing(target) as f:
            f.write(b"new, half of it")
            raise Boom()                             # the writer dies half way
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]


def test_token_files_are_private_from_the_first_byte(tmp_path):
    leftover = tmp_path / "rig.json.tmp"            # a temporary an older crash left, world-readable
    leftover.write_text("x")
    leftover.chmod(0o644)
    write_user_config({"cloud": {"token": "T" * 32}}, tmp_path / "rig.json")
    assert stat.S_IMODE((tmp_path / "rig.json").stat().st_mode) == 0o600
    assert json.loads((tmp_path / "rig.json").read_text())["cloud"]["token"] == "T" * 32


def test_the_rigs_position_file_survives_a_power_cut(tmp_path, fsynced):
    """A resume after a power cut starts from this file: it must be on the disk before the
    motors move."""
    routine._write_position(tmp_path, {"rotor": 10.0, "turntable": 20.0})
    assert routine.read_position(tmp_path) == {"rotor": 10.0, "turntable": 20.0}
    assert fsynced == [str(tmp_path / (routine.POSITION_FILE + ".tmp")), str(tmp_path)]
