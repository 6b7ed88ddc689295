"""Stage 2 — SIFT features and verified matches in `features/database.db`.

Features come from pycolmap at `max_image_size`; pairs come from `pairs.py`.
Both run in chunks so the job's progress moves while pycolmap works.
"""
import pathlib

import cv2  # noqa: F401  (before pycolmap)
import numpy as np
import pycolmap

from . import ingest, pairs as pairs_mod
from .options import gpu_enabled, num_threads
from .stage import command, fresh_dir, no_progress, write_json

CHUNKS = 8
MIN_INLIERS = 15   # COLMAP's default for a verified pair


def run(layout, options, progress=no_progress):
    return main(layout.images, layout.masks, layout.ingest, layout.database, layout.view_graph, layout.pairs,
                layout.cameras, options, progress)


def main(images, masks, ingest_info, db_path, view_graph, pairs_file, cameras_file, options, progress=no_progress):
    """SIFT of every photo into `db_path`, the view graph, the pairs chosen and matched.
    cameras_file: where the intrinsics came from ('calibrated' ones stay fixed in SfM)."""
    out = fresh_dir(pathlib.Path(db_path).parent)
    info = ingest.read(ingest_info)
    names = info["images"]
    manifest = info["manifest"]
    device = pycolmap.Device.cuda if gpu_enabled(options) else pycolmap.Device.cpu
    sizes = [_image_size(images / n) for n in names]
    first_size = sizes[0]

    reader, intrinsics = _reader_options(masks if ingest.uses_masks(info, options) else None, manifest, first_size)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = int(options["max_image_size"])
    extraction.num_threads = num_threads(options)
    extraction.sift.max_num_features = int(options["max_num_features"])
    extraction.sift.first_octave = _first_octave(first_size, options)
    extraction.use_gpu = device == pycolmap.Device.cuda
    # one rig camera => one shared intrinsics block, if all photos agree in size
    mode = pycolmap.CameraMode.SINGLE if len(set(sizes)) == 1 else pycolmap.CameraMode.PER_IMAGE
    for i, chunk in enumerate(_chunks(names, CHUNKS)):
        # One call per chunk: same database, so the single camera is shared.
        pycolmap.extract_features(
            db_path, images, image_names=chunk, camera_mode=mode,
            reader_options=reader, extraction_options=extraction, device=device,
        )
        if mode == pycolmap.CameraMode.SINGLE:
            reader.existing_camera_id = 1   # later chunks share the first chunk's camera
        progress(0.4 * (i + 1) / CHUNKS)

    graph = _view_graph(db_path, names, options, lambda f: progress(0.4 + 0.05 * f))
    np.savez_compressed(view_graph, names=np.array(names), scores=graph)
    pairs, strategy = _choose_pairs(names, manifest, graph, options)
    match_pairs(db_path, pairs, out, options, lambda f: progress(0.45 + 0.55 * f))
    pathlib.Path(pairs_file).write_text("".join(f"{a} {b}\n" for a, b in pairs))
    write_json(cameras_file, {"intrinsics": intrinsics})
    verified = len(verified_pairs(db_path))
    return {
        "pairs": len(pairs), "pair_strategy": strategy, "verified_pairs": verified,
        "fixed_intrinsics": intrinsics == "calibrated", "intrinsics": intrinsics,
    }


def _reader_options(masks, manifest, size):
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "SIMPLE_RADIAL"
    if masks is not None:
        reader.mask_path = str(masks)
    intr = manifest.intrinsics if manifest else None
    nominal = manifest.nominal if manifest else None
    if intr is not None and size == (intr.width, intr.height):
        # Calibrated on the rig: SfM keeps these fixed (see sfm.py).
        reader.camera_model = intr.model
        reader.camera_params = intr.params_string()
        return reader, "calibrated"
    if nominal is not None and size == (nominal.width, nominal.height):
        # Lens/sensor data: a better start than EXIF-less guessing, refined by SfM.
        f = 0.5 * (nominal.params[0] + nominal.params[1])
        reader.camera_params = ",".join(repr(float(p)) for p in (f, nominal.params[2], nominal.params[3], 0.0))
        return reader, "nominal"
    return reader, "guessed"


def _first_octave(size, options):
    """-1 (SIFT on the image doubled) only for small photos.

    On templeRing (640x480) the doubled octave halves the pose error (0.55 ->
    0.21 deg); on DTU (1600x1200) it costs 4x the extraction time and
    full-resolution features at octave 0 are as accurate (0.09 deg).
    """
    long_side = min(max(size), int(options["max_image_size"]))
    return -1 if long_side < int(options["upsample_below"]) else 0


def _image_size(path):
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _choose_pairs(names, manifest, graph, options):
    if len(names) <= int(options["exhaustive_max_images"]):
        return pairs_mod.exhaustive_pairs(names), "exhaustive"
    content = pairs_mod.graph_pairs(names, graph, int(options["graph_neighbors"]))
    if manifest is not None and all(n in manifest.angles for n in names):
        angles = pairs_mod.angle_pairs(names, manifest, int(options["angle_neighbors"]))
        return sorted(set(angles) | set(content)), "angles+view graph"
    return content, "view graph"


def _view_graph(db_path, names, options, progress):
    """Coarse match counts between photos (pairs.view_graph) from the stored features: every
    pair of a small set, each photo's retrieval candidates in a large one."""
    db = pycolmap.Database.open(db_path)
    try:
        by_name = {im.name: im.image_id for im in db.read_all_images()}
        coarse = [pairs_mod.coarse_features(db.read_keypoints(by_name[n]), db.read_descriptors(by_name[n]).data,
                                            int(options["graph_features"])) for n in names]
    finally:
        db.close()
    if len(names) > int(options["graph_all_pairs_max_images"]):
        return pairs_mod.retrieved_view_graph(coarse, int(options["graph_candidates"]), progress=progress)
    return pairs_mod.view_graph(coarse, progress=progress)


def read_view_graph(path):
    """(names, scores) as written by this stage."""
    data = np.load(path)
    return [str(n) for n in data["names"]], data["scores"]


def match_pairs(db_path, pairs, scratch_dir, options, progress=no_progress):
    """Match and geometrically verify `pairs` into the database, in chunks for progress."""
    device = pycolmap.Device.cuda if gpu_enabled(options) else pycolmap.Device.cpu
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = num_threads(options)
    matching.use_gpu = device == pycolmap.Device.cuda
    chunks = _chunks(list(pairs), CHUNKS)
    for i, chunk in enumerate(chunks):
        pairs_file = pathlib.Path(scratch_dir) / f"pairs_{i}.txt"
        pairs_file.write_text("".join(f"{a} {b}\n" for a, b in chunk))
        pycolmap.match_image_pairs(
            db_path, matching_options=matching,
            pairing_options=pycolmap.ImportedPairingOptions(match_list_path=str(pairs_file)),
            device=device,
        )
        pairs_file.unlink()
        progress((i + 1) / len(chunks))


def verified_pairs(db_path, min_inliers=MIN_INLIERS):
    """{(name_a, name_b): inlier matches} of the geometrically verified pairs."""
    db = pycolmap.Database.open(db_path)
    try:
        names = {im.image_id: im.name for im in db.read_all_images()}
        ids, counts = db.read_two_view_geometry_num_inliers()
    finally:
        db.close()
    result = {}
    for pair_id, count in zip(ids, counts):
        if count >= min_inliers:
            a, b = pycolmap.pair_id_to_image_pair(pair_id)
            result[tuple(sorted((names[a], names[b])))] = int(count)
    return result


def _chunks(items, n):
    size = max(1, -(-len(items) // n))
    return [items[i:i + size] for i in range(0, len(items), size)]


if __name__ == "__main__":
    command("features", run)
