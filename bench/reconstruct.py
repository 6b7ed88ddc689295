#!/usr/bin/env python3
"""Benchmark the reconstruction pipeline on one data set and compare with references.

    python bench/reconstruct.py middlebury_templeRing [--skip-colmap] [--keep DIR]
    python bench/reconstruct.py dtu_scan24
    python bench/reconstruct.py synthetic          # rendered scan of a known mesh: chamfer
    python bench/reconstruct.py /tmp/scan48        # a rig scan folder (openscan scan --simulate):
                                                   # manifest used, chamfer vs ground_truth/mesh.ply
    python bench/reconstruct.py ~/photos/owl       # any folder of photos (phone, DSLR)

Prints per-stage timings, registered images, pose error against ground truth
(templeRing's par file, DTU's cameras_KRt.txt), surface error for the synthetic
scan, and the same images through pycolmap's defaults (exhaustive matching +
incremental mapping) and Debian's `colmap automatic_reconstructor` (installed
with apt-get when missing), as time ratios.
"""
import argparse
import functools
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

os.environ.setdefault("GLOG_minloglevel", "2")   # before pycolmap loads: keep the output readable

import cv2  # noqa: F401,E402  (before pycolmap)
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cloud_backend.reconstruct import evaluate, pipeline, sfm, synthetic, texture  # noqa: E402
from cloud_backend.reconstruct.layout import Layout  # noqa: E402
from cloud_backend.reconstruct.stage import read_marker  # noqa: E402
from openscan_protocol.manifest import FILENAME as MANIFEST, photo_files, read as read_manifest  # noqa: E402
from openscan_protocol.upload import MASK_SUFFIX, MASKS_DIR, PHOTO_SUFFIXES  # noqa: E402

DATASETS = ROOT / ".." / "shared" / "datasets"
SYNTHETIC_PER_RING, SYNTHETIC_RINGS = 24, (20.0, 45.0)
GROUND_TRUTH = {"middlebury_templeRing": "templeR_par.txt", "dtu_scan24": "cameras_KRt.txt"}


def make_zip(name, target, masks=True):
    """The upload a rig would send: images flat at the root (+ masks/ when the set has them)."""
    if name == "synthetic":
        buf, cams = synthetic.scan_zip(SYNTHETIC_PER_RING, SYNTHETIC_RINGS, 640, 480, manifest="full")
        target.write_bytes(buf.getvalue())
        return None
    if (pathlib.Path(name) / MANIFEST).exists():   # a rig scan folder
        folder = pathlib.Path(name)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
            for photo in photo_files(read_manifest(folder)):
                archive.write(folder / photo, photo)
            archive.write(folder / MANIFEST, MANIFEST)
        return folder
    folder = DATASETS / name if (DATASETS / name).is_dir() else pathlib.Path(name)   # or any folder of photos
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    images = sorted(p for p in image_dir.iterdir() if p.name.lower().endswith(PHOTO_SUFFIXES))
    masks = sorted((folder / "mask").iterdir()) if masks and (folder / "mask").exists() else []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in images:
            archive.write(path, path.name)
        for image, mask in zip(images, masks):   # DTU: mask/000.png belongs to images/000000.png
            archive.write(mask, f"{MASKS_DIR}{image.name}{MASK_SUFFIX}")
    return image_dir


def rig_ground_truth(folder):
    """{name: (K, R, t)} from a simulated scan's ground_truth/cameras.json, or None."""
    path = pathlib.Path(folder) / "ground_truth" / "cameras.json"
    if not path.exists():
        return None
    cams = json.loads(path.read_text())
    k = np.array(cams["K"], float)
    return {n: (k, np.array(c["R"], float), np.array(c["t"], float)) for n, c in cams["photos"].items()}


def pose_report(rec, name):
    gt = rig_ground_truth(name)
    if gt is None and name not in GROUND_TRUTH:
        return {}
    gt = gt or evaluate.read_krt(DATASETS / name / GROUND_TRUTH[name])
    rot, centre = evaluate.pose_errors(rec, gt)
    return {"rotation_error_deg_median": float(np.median(rot)), "rotation_error_deg_max": float(rot.max()),
            "centre_error_median": float(np.median(centre))}


def chamfer_report(work, truth_points, truth_mesh):
    """The work folder's mesh against a true mesh over `truth_points` (the true surface its
    cameras saw): chamfer, completeness, accuracy, and where they come from."""
    import open3d as o3d

    layout = Layout(work)
    mesh = o3d.io.read_triangle_mesh(str(layout.mesh))
    fused = np.asarray(o3d.io.read_point_cloud(str(layout.fused)).points)
    result_points, completeness, accuracy = evaluate.surface_distances(
        truth_points, truth_mesh, (np.asarray(mesh.vertices), np.asarray(mesh.triangles)))
    dist = 0.5 * (completeness.mean() + accuracy.mean())
    diagonal = np.linalg.norm(truth_mesh[0].max(0) - truth_mesh[0].min(0))
    return {"chamfer_mm": float(dist), "chamfer_fraction_of_bbox_diagonal": float(dist / diagonal),
            "completeness_mm": float(completeness.mean()), "accuracy_mm": float(accuracy.mean()),
            **evaluate.error_sources(result_points, accuracy, completeness, fused)}


def surface_report(work, cams):
    return chamfer_report(work, synthetic.observed_surface_samples(cams, 100000), synthetic.object_mesh())


@functools.lru_cache(maxsize=1)
def rig_truth(folder):
    """A simulated scan's ground truth, read once: (object verts, faces), (scene verts, faces) —
    the scene holds the object too — and cameras.json."""
    import open3d as o3d

    truth = pathlib.Path(folder) / "ground_truth"
    obj = o3d.io.read_triangle_mesh(str(truth / "mesh.ply"))
    scene = o3d.io.read_triangle_mesh(str(truth / "scene.ply"))
    return ((np.asarray(obj.vertices), np.asarray(obj.triangles)), (np.asarray(scene.vertices), np.asarray(scene.triangles)),
            json.loads((truth / "cameras.json").read_text()))


def rig_surface_report(work, folder):
    """Chamfer against a simulated scan's true mesh, over the part its cameras saw."""
    (tv, tf), scene, cams = rig_truth(str(folder))
    k = np.array(cams["K"], float)
    cameras = [(np.array(c["R"], float), np.array(c["t"], float), k, cams["width"], cams["height"])
               for c in cams["photos"].values()]
    truth = evaluate.observed_samples(tv, tf, *scene, cameras)
    return {**chamfer_report(work, truth, (tv, tf)), "observed_fraction": len(truth) / 100000}


def object_masks(name, long_side=480):
    """{photo name: object mask} for sets that have them: DTU's mask/ folder, or a simulated rig
    scan's true object rendered with its true cameras (at long_side px); None otherwise."""
    folder = pathlib.Path(name) if pathlib.Path(name).is_dir() else DATASETS / name
    if (folder / "mask").exists():   # DTU: mask/000.png belongs to images/000000.png
        images = sorted((folder / "images").iterdir())
        return {image.name: cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
                for image, mask in zip(images, sorted((folder / "mask").iterdir()))}
    if not (folder / "ground_truth" / "cameras.json").exists():
        return None
    obj, scene, cams = rig_truth(str(folder))
    scale = long_side / max(cams["width"], cams["height"])
    k = np.diag([scale, scale, 1.0]) @ np.array(cams["K"], float)
    size = (int(round(cams["width"] * scale)), int(round(cams["height"] * scale)))
    cameras = {n: (np.array(c["R"], float), np.array(c["t"], float), k, *size) for n, c in cams["photos"].items()}
    return evaluate.true_object_masks(*obj, *scene, cameras)


def rig_occluders(name):
    """(verts, faces) of a simulated scan's scene without its object (the plate, the turntable):
    seen from below the plate, they hide part of the object, and its true masks leave that out."""
    if not (pathlib.Path(name) / "ground_truth" / "scene.ply").exists():
        return None
    (obj_verts, _), (verts, faces), _ = rig_truth(str(name))
    object_vertex = {tuple(v) for v in obj_verts.round(4)}
    on_object = np.array([tuple(v) in object_vertex for v in verts.round(4)])
    return verts, faces[~on_object[faces].all(axis=1)]


def silhouette_report(work, name):
    """Mean / worst IoU of the result's silhouette against the object masks, where there are masks."""
    import open3d as o3d

    masks = object_masks(name)
    if masks is None:
        return {}
    mesh = o3d.io.read_triangle_mesh(str(work / "mesh" / "mesh.ply"))
    ious = evaluate.silhouette_iou(sfm.load(Layout(work).sparse), np.asarray(mesh.vertices), np.asarray(mesh.triangles),
                                   masks, occluders=rig_occluders(name))
    values = np.array(list(ious.values()))
    return {"silhouette_iou_mean": float(values.mean()), "silhouette_iou_min": float(values.min()),
            "silhouette_iou_below_0.9": sorted(n for n, v in ious.items() if v < 0.9)}


def texture_report(work):
    """The textured model against the photos up close and at a quarter size (mipmap level 2),
    and the colour jump across its edges (evaluate.texture_error, evaluate.seam_jump)."""
    layout = Layout(work)
    if not layout.textured.exists():
        return {}
    verts, _, uv, faces = texture.read_textured(layout.textured)
    image = cv2.cvtColor(cv2.imread(str(layout.texture_image), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    errors = evaluate.texture_error(sfm.load(layout.sparse), layout.images, verts, faces, uv, image)
    vmap = np.unique(verts, axis=0, return_inverse=True)[1].ravel()   # atlas vertex -> mesh vertex
    return {"texture_error_vs_photos": {f"mip{level}": round(e, 2) for level, e in errors.items()},
            "texture_seam_jump": round(evaluate.seam_jump(vmap, faces, uv, image), 2)}


def pycolmap_defaults(image_dir, work, name):
    """Exhaustive matching + incremental mapping with pycolmap's default options."""
    import pycolmap

    work.mkdir(parents=True)
    t0 = time.monotonic()
    steps = {"features": lambda: pycolmap.extract_features(work / "db.db", image_dir),
             "exhaustive matching": lambda: pycolmap.match_exhaustive(work / "db.db"),
             "incremental mapping": lambda: pycolmap.incremental_mapping(work / "db.db", image_dir, work)}
    for step, call in steps.items():   # each step's time as it ends: a killed run still tells
        models = call()
        print(f"pycolmap defaults: {step} done at {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    seconds = time.monotonic() - t0
    rec = max(models.values(), key=lambda r: r.num_reg_images()) if models else None
    out = {"seconds": seconds, "registered": rec.num_reg_images() if rec else 0}
    if rec:
        out.update(pose_report(rec, name))
    return out


def colmap_automatic(image_dir, work):
    """Debian's colmap 3.8 CLI, as a user without our service would run it."""
    if shutil.which("colmap") is None:
        print("installing Debian's colmap ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "colmap"], check=True,
                       stdout=subprocess.DEVNULL)
    work.mkdir(parents=True)
    t0 = time.monotonic()
    proc = subprocess.run(
        ["colmap", "automatic_reconstructor", "--workspace_path", str(work), "--image_path", str(image_dir),
         "--use_gpu", "0", "--quality", "medium"],
        capture_output=True, text=True,
    )
    seconds = time.monotonic() - t0
    produced = sorted(str(p.relative_to(work)) for p in work.rglob("*.ply"))
    return {"seconds": seconds, "returncode": proc.returncode, "ply_outputs": produced,
            "note": "CPU colmap skips dense stereo (needs CUDA): sparse model only" if not produced else ""}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="folder name under ../shared/datasets, or 'synthetic'")
    parser.add_argument("--keep", type=pathlib.Path, help="work directory to keep (default: temporary)")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-colmap", action="store_true")
    parser.add_argument("--no-masks", action="store_true", help="send the photos without the set's masks (DTU)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=JSON",
                        help="pipeline option, e.g. --option mesh_faces=30000")
    args = parser.parse_args()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-"))
    work = args.keep or tmp / "work"
    upload = tmp / "upload.zip"
    image_dir = make_zip(args.dataset, upload, masks=not args.no_masks)

    t0 = time.monotonic()
    pipeline.run(upload, work, options, lambda stage, f: print(f"\r{stage:9s} {f:6.1%}", end="", flush=True))
    total = time.monotonic() - t0
    # stages run in child processes (isolate.py): the largest of them, or this process
    peak_rss_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    print()
    report = json.loads((work / "export" / "report.json").read_text())
    # report.json is written inside the export stage, so its own time is only in its marker
    stage_seconds = dict(report["timing_s"], export=read_marker(work, "export")["seconds"])
    result = {"dataset": args.dataset, "total_seconds": total, "stage_seconds": stage_seconds,
              "images": {k: report[k] for k in ("images_given", "images_used", "images_registered")},
              "dense_points": report["dense_points"], "mesh_faces": report["mesh_faces"],
              "scale_source": report["scale_source"], "stage_cpu_seconds": report["cpu_s"],
              "peak_rss_mb": round(peak_rss_mb), "quality": report["options"]["quality"],
              "images_unregistered": report["images_unregistered"]}
    result.update(pose_report(sfm.load(Layout(work).sparse), args.dataset))
    result.update(silhouette_report(work, args.dataset))
    result.update(texture_report(work))
    if rig_ground_truth(args.dataset) is not None:
        result.update(rig_surface_report(work, args.dataset))
    if args.dataset == "synthetic":
        cams = synthetic.ring_cameras(SYNTHETIC_PER_RING, SYNTHETIC_RINGS)
        result.update(surface_report(work, cams))
    print(json.dumps(result), file=sys.stderr, flush=True)   # ours, before the (long) reference runs
    sparse_seconds = report["timing_s"]["features"] + report["timing_s"]["sfm"]
    if not args.skip_baselines and image_dir is not None:
        base = pycolmap_defaults(image_dir, tmp / "pycolmap", args.dataset)
        result["pycolmap_defaults"] = base
        result["ratio_sparse_vs_pycolmap_defaults"] = sparse_seconds / base["seconds"]
        # the target: our textured model in less time than COLMAP's defaults take for the poses alone
        result["ratio_textured_model_vs_pycolmap_poses"] = total / base["seconds"]
        if not args.skip_colmap:
            cli = colmap_automatic(image_dir, tmp / "colmap")
            result["colmap_automatic_reconstructor"] = cli
            result["ratio_total_vs_colmap_cli"] = total / cli["seconds"]
    print(json.dumps(result, indent=2))
    if args.keep is None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
