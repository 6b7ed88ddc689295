"""Every pipeline setting and its default, in one place.

Options are plain data (a dict) so the job system can store them as JSON
next to the project and pass them to a child process unchanged.
"""
import json
import os

from openscan_protocol import options as protocol

DEFAULTS = {
    "quality": "standard",         # 'preview' | 'standard' | 'high': a row of QUALITY, see below
    # -- per-scan choices (openscan_protocol.options; sent with createProject)
    "texture": True,               # False: no texture, no textured files
    "masking": "auto",             # 'auto': masks when the upload has them | 'off' | 'masks': required
    "objecttype": "object",        # 'object': isolate the object, close the print surface | 'scene'
    "formats": ["obj", "glb", "stl", "ply"],  # files in the result zip (openscan_protocol.result.FORMATS)
    # -- features / matching
    "max_image_size": None,        # (quality) longest side SIFT sees (px); CPU SIFT+matching dominate big photos
    "upsample_below": 1000,        # SIFT doubles images smaller than this (px) to find enough features
    "max_num_features": None,      # (quality) matching cost grows with its square
    "exhaustive_max_images": 30,   # up to this many photos every pair is matched
    "graph_features": 384,         # largest-scale features per photo scored between pairs (pairs.view_graph)
    "graph_all_pairs_max_images": 100,  # up to this many photos the view graph scores every pair (quadratic) ...
    "graph_candidates": 16,        # ... above, each photo's most similar photos by bag of words (linear)
    "graph_neighbors": 12,         # best-scored partners matched per photo
    "angle_neighbors": 10,         # with manifest angles: also the nearest views in angle space
    "recovery_rounds": 2,          # match more partners for photos SfM left out, then continue mapping
    "use_gpu": "auto",             # 'auto' | True | False (SIFT, matching, patch match)
    "num_threads": -1,             # -1: all cores
    # -- structure from motion
    "min_registered_fraction": 0.5,  # fail below this share of usable images
    "min_registered_images": 3,
    "prior_position_std_mm": 5.0,    # trust in manifest camera centres
    "refine_principal_point": True,  # only without camera data in the manifest (nominal or calibrated K)
    "ba_global_growth": 1.6,         # global bundle adjustment each time the model grows by this factor
    # -- dense
    "dense_max_image_size": None,  # (quality) the object's longest side in the depth maps (px; CPU crops to it); 0: the photos' own size
    "dense_num_neighbors": 2,      # stereo partners per reference view (CPU)
    "sgbm_block_size": 5,          # CPU stereo (OpenCV SGBM): matched window, px
    "sgbm_uniqueness_ratio": 10,   # % by which the best disparity must beat the second
    "sgbm_max_disparity_fraction": 0.48,  # disparity search cap, share of the photo's width (384 px at 800)
    "sgbm_min_contrast": 2.0,      # grey levels of local std a pixel needs to keep its depth (stereo_cpu.textured)
    "fusion_min_num_pixels": 3,
    "fusion_cache_gb": 4.0,        # above this, fusion holds the maps through an LRU cache of this size (slow, bounded)
    # -- mesh
    "poisson_depth": None,         # (quality) deepest octree (8: 256^3); the points' spacing and mesh_faces pick the depth below it
    "trim_spacings": 10,           # drop Poisson surface farther than this many point spacings from the points
    "trim_min_fraction": 0.0005,   # ... in patches of at least this share of the surface (smaller: gaps kept closed)
    "mesh_faces": None,            # (quality) face budget after decimation
    "smooth_iterations": 5,
    # -- texture / export
    "texture_size": None,          # (quality) largest texture side; smaller when the photos hold less detail
    "uv_atlas": "auto",            # 'xatlas' | 'grid' | 'auto' (xatlas up to 10k faces)
    "texture_views_per_texel": 3,  # blend the best-facing views
    "preview_size": 640,
    "print_voxels": None,          # (quality) voxels along the object's longest side for model.stl (printable.py)
}


# What a quality level sets; an option given explicitly wins over its level. Sizes are caps:
# features, depth maps and the texture follow the photos' own resolution below them
# (texture.texture_size: a texel per photo pixel), and `high` has no cap but the photos.
# CPU stereo grows with the cube of the depth-map size (pixels x disparity range): DTU's 49
# photos took 1050 CPU-s of dense at 1600 px against ~55 s at 800, hence 1000 for `standard`.
# SIFT at 3200 px, COLMAP's own default: on the 130 x 16 MP rig scan 2400 px left the poses at
# 0.022 deg median rotation error against COLMAP's 0.018; 3200 gives 0.015 for 1.7x the CPU.
QUALITY = {
    "preview": {"max_image_size": 1000, "max_num_features": 2048, "upsample_below": 0, "dense_max_image_size": 320,
                "poisson_depth": 8, "mesh_faces": 50_000, "texture_size": 1024, "print_voxels": 128},
    "standard": {"max_image_size": 3200, "max_num_features": 8192, "dense_max_image_size": 1000,
                 "poisson_depth": 10, "mesh_faces": 200_000, "texture_size": 4096, "print_voxels": 256},
    # the same features and SfM as `standard`: a re-run at `high` starts at the dense stage
    "high": {"max_image_size": 3200, "max_num_features": 8192, "dense_max_image_size": 0,
             "poisson_depth": 12, "mesh_faces": 1_000_000, "texture_size": 8192, "print_voxels": 384},
}

# The option keys each stage reads; its `.done.json` records their values, and pipeline.run
# re-runs a stage whose values changed (and every stage after it). Keys not listed anywhere
# (num_threads, use_gpu, fusion_cache_gb) change how fast or in how much memory, not the result.
STAGE_OPTIONS = {
    "ingest": (),
    "features": ("masking", "max_image_size", "upsample_below", "max_num_features", "exhaustive_max_images",
                 "graph_features", "graph_all_pairs_max_images", "graph_candidates", "graph_neighbors",
                 "angle_neighbors"),
    "sfm": ("min_registered_fraction", "min_registered_images", "prior_position_std_mm",
            "refine_principal_point", "ba_global_growth", "recovery_rounds", "graph_neighbors"),
    "dense": ("masking", "objecttype", "dense_max_image_size", "dense_num_neighbors", "sgbm_block_size",
              "sgbm_uniqueness_ratio", "sgbm_max_disparity_fraction", "sgbm_min_contrast", "fusion_min_num_pixels"),
    "mesh": ("masking", "objecttype", "poisson_depth", "trim_spacings", "trim_min_fraction", "mesh_faces", "smooth_iterations"),
    "texture": ("texture", "texture_size", "uv_atlas", "texture_views_per_texel"),
    "export": ("quality", "texture", "objecttype", "formats", "preview_size", "print_voxels", "mesh_faces"),
}


def resolve(options=None):
    """Defaults, then the quality level's settings, then `options`; unknown keys, levels or
    values of the per-scan options are a ValueError naming the option, not a silent no-op."""
    options = dict(options or {})
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown reconstruction options: {sorted(unknown)}")
    level = options.get("quality", DEFAULTS["quality"])
    if level not in QUALITY:
        raise ValueError(f"quality must be one of {', '.join(QUALITY)}, not {level!r}")
    resolved = {**DEFAULTS, **QUALITY[level], **options}
    for key, accepted in (("masking", protocol.MASKING), ("objecttype", protocol.OBJECTTYPE)):
        if resolved[key] not in accepted:
            raise ValueError(f"{key} must be one of {', '.join(accepted)}, not {resolved[key]!r}")
    if not isinstance(resolved["texture"], bool):
        raise ValueError(f"texture must be true or false, not {resolved['texture']!r}")
    resolved["formats"] = _formats(resolved["formats"])
    return resolved


def _formats(value):
    """A list of known formats in the protocol's order; a comma-separated string is accepted."""
    try:
        names = protocol.parse_formats(value)
    except ValueError as e:
        raise ValueError(f"formats: {e}") from None
    return [f for f in protocol.ALL_FORMATS if f in names]


def stage_options(name, options):
    """The values of the options stage `name` reads, as JSON would give them back (tuples as
    lists), so a marker's record compares equal to the same options resolved again."""
    return json.loads(json.dumps({key: options[key] for key in STAGE_OPTIONS[name]}))


def num_threads(options):
    n = int(options["num_threads"])
    return n if n > 0 else (os.cpu_count() or 1)


def gpu_enabled(options):
    """True when the user allows the GPU and this pycolmap build has CUDA."""
    import cv2  # noqa: F401  (cv2 before pycolmap: PNG writing aborts otherwise)
    import pycolmap

    want = options["use_gpu"]
    if want == "auto":
        return bool(pycolmap.has_cuda)
    return bool(want) and bool(pycolmap.has_cuda)
