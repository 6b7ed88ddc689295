"""Every pipeline setting and its default, in one place.

Options are plain data (a dict) so the job system can store them as JSON
next to the project and pass them to a child process unchanged.
"""
import os

DEFAULTS = {
    # -- features / matching
    "max_image_size": 1600,        # longest side SIFT sees (px); CPU SIFT+matching dominate big photos
    "upsample_below": 1000,        # SIFT doubles images smaller than this (px) to find enough features
    "max_num_features": 4096,      # matching cost grows with its square
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
    "dense_max_image_size": 800,
    "dense_num_neighbors": 2,      # stereo partners per reference view (CPU)
    "fusion_min_num_pixels": 3,
    # -- mesh
    "poisson_depth": 8,            # 256^3 octree: ~4x the faces kept after decimation (9: 2x slower, chamfer 0.26% -> 0.25%)
    "trim_spacings": 10,           # drop Poisson surface farther than this many point spacings from the points
    "mesh_faces": 50000,
    "smooth_iterations": 5,
    # -- texture / export
    "texture_size": 2048,
    "uv_atlas": "auto",            # 'xatlas' | 'grid' | 'auto' (xatlas up to 10k faces)
    "texture_views_per_texel": 3,  # blend the best-facing views
    "preview_size": 640,
}


def resolve(options=None):
    """Defaults overlaid with `options`; unknown keys are an error, not a silent no-op."""
    merged = dict(DEFAULTS)
    unknown = set(options or {}) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown reconstruction options: {sorted(unknown)}")
    merged.update(options or {})
    return merged


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
