"""Per-scan options: validation, what each stage reads, and what a re-run must redo."""
import ast
import pathlib

import pytest

from cloud_backend.reconstruct import options
from cloud_backend.reconstruct.pipeline import STAGES

PACKAGE = pathlib.Path(options.__file__).parent


@pytest.mark.parametrize("key, value, accepted", [
    ("masking", "sometimes", "auto, off, masks"),
    ("objecttype", "person", "object, scene"),
    ("formats", ["obj", "fbx"], "obj, glb, stl, ply"),
    ("formats", [], "obj, glb, stl, ply"),
    ("texture", "yes", "true or false"),
    ("quality", "ultra", "preview, standard, high"),
])
def test_bad_values_are_rejected_naming_the_option_and_what_it_accepts(key, value, accepted):
    with pytest.raises(ValueError) as err:
        options.resolve({key: value})
    assert key in str(err.value) and accepted in str(err.value)


def test_formats_accept_a_comma_list_and_come_back_in_the_protocol_order():
    assert options.resolve({"formats": "ply, STL"})["formats"] == ["stl", "ply"]
    assert options.resolve({"formats": ("glb", "obj", "glb")})["formats"] == ["obj", "glb"]
    assert options.resolve()["formats"] == ["obj", "glb", "stl", "ply"]


def test_standard_and_high_share_features_and_sfm_preview_does_not():
    standard, high, preview = (options.resolve({"quality": q}) for q in ("standard", "high", "preview"))
    for stage in ("ingest", "features", "sfm"):
        assert options.stage_options(stage, standard) == options.stage_options(stage, high)
    assert options.stage_options("dense", standard) != options.stage_options("dense", high)
    assert options.stage_options("features", standard) != options.stage_options("features", preview)


def test_speed_only_options_invalidate_nothing():
    base = options.resolve()
    other = options.resolve({"num_threads": 1, "use_gpu": False, "fusion_cache_gb": 1.0})
    for name, _, _ in STAGES:
        assert options.stage_options(name, base) == options.stage_options(name, other)


def _keys_read(path):
    """Every `options["key"]` / `options.get("key")` in a module's source."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "options" \
                and isinstance(node.slice, ast.Constant):
            keys.add(node.slice.value)
    return keys


@pytest.mark.parametrize("stage, modules", [
    ("features", ["features.py"]), ("sfm", ["sfm.py"]), ("dense", ["dense.py", "stereo_cpu.py"]),
    ("mesh", ["mesh.py"]), ("texture", ["texture.py"]), ("export", ["export.py"]),
])
def test_each_stage_declares_every_option_its_code_reads(stage, modules):
    """A key a stage reads but does not declare would not re-run it when changed."""
    neutral = {"num_threads", "use_gpu", "fusion_cache_gb"}
    read = set().union(*(_keys_read(PACKAGE / m) for m in modules)) - neutral
    assert read <= set(options.STAGE_OPTIONS[stage]), read - set(options.STAGE_OPTIONS[stage])
