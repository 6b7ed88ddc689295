"""Every pipeline setting and its default, in one place.

Options are plain data (a dict) so the job system can store them as JSON
next to the project and pass them to a child process unchanged.
"""
import os

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
    "graph_features": 384,         # largest-scale features per photo scored between all pairs (pairs.view_graph)
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
    "fusion_min_num_pixels": 3,
    "fusion_cache_gb": 4.0,        # above this, fusion holds the maps through an LRU cache of this size (slow, bounded)
    # -- mesh
    "poisson_depth": None,         # (quality) deepest octree (8: 256^3); the points' spacing picks the depth below it
    "trim_spacings": 10,           # drop Poisson surface farther than this many point spacings from the points
    "mesh_faces": None,            # (quality) face budget after decimation
    "smooth_iterations": 5,
    # -- texture / export
    "texture_size": None,          # (quality) largest texture side; smaller when the photos hold less detail
    "uv_atlas": "auto",            # 'xatlas' | 'grid' | 'auto' (xatlas up to 10k faces)
    "texture_views_per_texel": 3,  # blend the best-facing views
    "preview_size": 640,
}


# What a quality level sets; an option given explicitly wins over its level. Sizes are caps:
# features, depth maps and the texture follow the photos' own resolution below them
# (texture.texture_size: a texel per photo pixel), and `high` has no cap but the photos.
# CPU stereo grows with the cube of the depth-map size (pixels x disparity range): DTU's 49
# photos took 1050 CPU-s of dense at 1600 px against ~55 s at 800, hence 1000 for `standard`.
QUALITY = {
    "preview": {"max_image_size": 1600, "max_num_features": 4096, "dense_max_image_size": 800,
                "poisson_depth": 8, "mesh_faces": 50_000, "texture_size": 2048},
    "standard": {"max_image_size": 2400, "max_num_features": 8192, "dense_max_image_size": 1000,
                 "poisson_depth": 10, "mesh_faces": 200_000, "texture_size": 4096},
    "high": {"max_image_size": 3200, "max_num_features": 8192, "dense_max_image_size": 0,
             "poisson_depth": 12, "mesh_faces": 1_000_000, "texture_size": 8192},
}


def resolve(options=None):
    """Defaults, then the quality level's settings, then `options`; unknown keys or
    levels are an error, not a silent no-op."""
    options = dict(options or {})
    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown reconstruction options: {sorted(unknown)}")
    level = options.get("quality", DEFAULTS["quality"])
    if level not in QUALITY:
        raise ValueError(f"quality must be one of {', '.join(QUALITY)}, not {level!r}")
    return {**DEFAULTS, **QUALITY[level], **options}


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
