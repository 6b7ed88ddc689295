"""Stage 3 — incremental structure from motion into `sparse/` (COLMAP binary).

With manifest angles + rig geometry, camera centres in the turntable frame go
in as pose priors and the model is then similarity-aligned to them: metric
(mm) and upright. Without, the model is made upright from the camera ring
(a turntable scan's cameras lie around the axis) and its scale is arbitrary.
Calibrated intrinsics from the manifest stay fixed: self-calibrated focal
length is the largest source of pose error.
"""
import json
import pathlib

import cv2  # noqa: F401  (before pycolmap)
import numpy as np
import pycolmap

from . import features, ingest, pairs as pairs_mod
from .errors import ReconstructionError
from .options import num_threads
from .stage import command, fresh_dir, no_progress, write_json


def run(layout, options, progress=no_progress):
    return main(layout.images, layout.ingest, layout.database, layout.view_graph, layout.pairs, layout.cameras,
                layout.sparse, layout.frame, layout.sfm_scratch, options, progress)


def load(sparse):
    return pycolmap.Reconstruction(sparse)


def read_frame(path):
    """{"units": "mm" | "arbitrary", "scale_source": ...}: the frame the model is in."""
    return json.loads(pathlib.Path(path).read_text())


def main(images, ingest_info, db_path, view_graph, pairs_file, cameras_file, sparse, frame_file, scratch,
         options, progress=no_progress):
    """The model of the photos in `sparse` (+ `frame_file`). The database gains the matches of
    the extra pairs tried for left-out photos; `scratch` holds intermediate models."""
    out = fresh_dir(sparse)
    models_dir = fresh_dir(scratch)
    info = ingest.read(ingest_info)
    manifest = info["manifest"]
    names = info["images"]
    intrinsics = json.loads(pathlib.Path(cameras_file).read_text())["intrinsics"]
    fixed = intrinsics == "calibrated"
    priors = _write_pose_priors(db_path, manifest, options) if manifest else 0

    opts = pycolmap.IncrementalPipelineOptions()
    opts.num_threads = num_threads(options)
    opts.random_seed = 0
    opts.use_prior_position = priors >= 3
    # a photo whose manifest angles are wrong (a slipped turntable) must not drag the model
    opts.use_robust_loss_on_prior_position = True
    # COLMAP re-adjusts the whole model every 10% of growth (1.1); at 1.6 templeRing
    # maps in 6.5 s instead of 15 s with the same pose error (0.19 deg median),
    # since local adjustment and the final global one still run.
    opts.ba_global_frames_ratio = float(options["ba_global_growth"])
    opts.ba_global_points_ratio = float(options["ba_global_growth"])
    # With no camera data, refining the principal point cut templeRing's median
    # rotation error from 0.78 to 0.20 degrees. A rig's nominal one (the sensor
    # centre) is better kept: refined on a simulated two-ring scan it drifted
    # 12 px and tilted every camera by 0.7 degrees (0.04 degrees kept).
    opts.ba_refine_principal_point = bool(options["refine_principal_point"]) and intrinsics == "guessed"
    if fixed:
        opts.ba_refine_focal_length = False
        opts.ba_refine_extra_params = False
        opts.mapper.abs_pose_refine_focal_length = False
        opts.mapper.abs_pose_refine_extra_params = False
    registered = [0]

    def next_image():
        registered[0] += 1
        progress(0.8 * min(1.0, registered[0] / len(names)))

    models = pycolmap.incremental_mapping(
        db_path, images, models_dir, opts, next_image_callback=next_image
    )
    if not models:
        raise ReconstructionError(
            f"no 3D model could be started from the {len(names)} images: too few features match "
            "between photos (plain, shiny or moving objects, or photos too far apart)"
        )
    rec = max(models.values(), key=lambda r: r.num_reg_images())
    rec, recovery_pairs = _recover_left_out(db_path, images, view_graph, pairs_file, models_dir, rec, names,
                                            opts, options, progress)
    n_reg = rec.num_reg_images()
    needed = max(int(options["min_registered_images"]), int(np.ceil(options["min_registered_fraction"] * len(names))))
    left_out = _unregistered_reasons(db_path, names, {rec.image(i).name for i in rec.reg_image_ids()})
    if n_reg < needed:
        raise ReconstructionError(
            f"only {n_reg} of {len(names)} images could be registered; "
            "more overlap between neighbouring photos or more texture on the object is needed"
        )
    scale_source = _align(rec, manifest, priors, options)
    rec.write(out)
    units = "mm" if scale_source.startswith("manifest") else "arbitrary"
    write_json(frame_file, {"units": units, "scale_source": scale_source})
    stats = {
        "images_registered": n_reg,
        "images_unregistered": left_out,
        "models": len(models),
        "recovery_pairs": recovery_pairs,
        "points": rec.num_points3D(),
        "mean_reprojection_error_px": round(float(rec.compute_mean_reprojection_error()), 4),
        "pose_priors": priors,
        "fixed_intrinsics": fixed,
        "scale_source": scale_source,
        "units": units,
        "per_image": per_image_stats(rec),   # the report's per-photo table and camera plot
    }
    progress(1.0)
    return stats


def _recover_left_out(db_path, images, view_graph, pairs_file, scratch_dir, rec, names, opts, options, progress):
    """Match photos the model left out (or that formed models of their own) with more
    partners from the view graph and continue mapping from the model; returns the
    (possibly larger) model and how many pairs were added."""
    graph_names, scores = features.read_view_graph(view_graph)
    done = set(tuple(line.split()) for line in pathlib.Path(pairs_file).read_text().splitlines())
    added = 0
    for round_ in range(int(options["recovery_rounds"])):
        left = sorted(set(names) - {rec.image(i).name for i in rec.reg_image_ids()})
        extra = pairs_mod.more_pairs(graph_names, scores, left, done, int(options["graph_neighbors"]))
        if not extra:
            break
        scratch = fresh_dir(pathlib.Path(scratch_dir) / "recovery")
        features.match_pairs(db_path, extra, scratch, options)
        done |= set(extra)
        added += len(extra)
        rec.write(fresh_dir(scratch / "input"))
        before = rec.num_reg_images()
        models = pycolmap.incremental_mapping(db_path, images, fresh_dir(scratch / "output"), opts,
                                              input_path=scratch / "input")
        if models:
            best = max(models.values(), key=lambda r: r.num_reg_images())
            if best.num_reg_images() > before:
                rec = best
        progress(0.8 + 0.1 * (round_ + 1) / int(options["recovery_rounds"]))
        if rec.num_reg_images() == before:
            break
    return rec, added


def _unregistered_reasons(db_path, names, registered):
    """[{name, reason}] for each photo not in the model, in words a user can act on."""
    verified = features.verified_pairs(db_path)
    db = pycolmap.Database.open(db_path)
    try:
        keypoints = {im.name: db.num_keypoints_for_image(im.image_id) for im in db.read_all_images()}
    finally:
        db.close()
    partners = {n: set() for n in names}
    for a, b in verified:
        partners[a].add(b)
        partners[b].add(a)
    result = []
    for name in sorted(set(names) - registered):
        linked = partners[name] & registered
        if keypoints.get(name, 0) < 50:
            reason = "almost no features: a blank, blurred or overexposed photo"
        elif not partners[name]:
            reason = "shares no verified matches with any other photo (another object, or too far from every other view)"
        elif not linked:
            reason = (f"matches only {len(partners[name])} other left-out photo(s), "
                      "a group not connected to the model")
        else:
            reason = (f"matches {len(linked)} registered photo(s), but its position could not be "
                      "estimated from them (too few or inconsistent matches)")
        result.append({"name": name, "reason": reason})
    return result


def per_image_stats(rec):
    """{name: {observations, reprojection_error_px, centre, view}} of each registered photo, in
    the model's final frame: what the report plots (camera positions) and ranks (worst photos)."""
    ids = list(rec.point3D_ids())
    xyz = np.array([rec.point3D(i).xyz for i in ids]).reshape(-1, 3)
    row = {pid: k for k, pid in enumerate(ids)}
    out = {}
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        obs = image.get_observation_points2D()
        error = None
        if obs:
            pts = xyz[[row[p.point3D_id] for p in obs]]
            pose = image.cam_from_world()
            cam = pts @ pose.rotation.matrix().T + pose.translation
            front = cam[:, 2] > 1e-9
            if front.any():
                proj = image.camera.img_from_cam(cam[front])
                xy = np.array([p.xy for p in obs])[front]
                error = round(float(np.linalg.norm(proj - xy, axis=1).mean()), 4)
        out[image.name] = {
            "observations": len(obs),
            "reprojection_error_px": error,
            "centre": [round(float(v), 4) for v in image.projection_center()],
            "view": [round(float(v), 4) for v in image.viewing_direction()],
        }
    return out


def _write_pose_priors(db_path, manifest, options):
    """Camera centres from the rig geometry as position priors; returns how many."""
    std = float(options["prior_position_std_mm"])
    db = pycolmap.Database.open(db_path)
    count = 0
    try:
        db.clear_pose_priors()   # a run killed after writing them is resumed from scratch
        for image in db.read_all_images():
            centre = manifest.camera_centre_mm(image.name)
            if centre is None:
                continue
            prior = pycolmap.PosePrior(
                position=centre,
                position_covariance=np.eye(3) * std**2,
                coordinate_system=pycolmap.PosePriorCoordinateSystem.CARTESIAN,
                corr_data_id=image.data_id,
            )
            db.write_pose_prior(prior)
            count += 1
    finally:
        db.close()
    return count


def _align(rec, manifest, priors, options):
    """Bring the model into the turntable frame; return where the scale came from."""
    ids = list(rec.reg_image_ids())
    centres = np.array([rec.image(i).projection_center() for i in ids])
    if priors >= 3:
        target = [manifest.camera_centre_mm(rec.image(i).name) for i in ids]
        keep = [k for k, t in enumerate(target) if t is not None]
        if len(keep) >= 3:
            ransac = pycolmap.RANSACOptions()
            ransac.max_error = 3.0 * float(options["prior_position_std_mm"])
            found = pycolmap.estimate_sim3d_robust(centres[keep], np.array([target[k] for k in keep]), ransac)
            if found is not None:
                rec.transform(found["tgt_from_src"])
                return "manifest rig geometry (pose priors)"
    rec.transform(_upright_from_camera_ring(rec, ids, centres))
    return "none: arbitrary units (no rig geometry in a manifest)"


def _upright_from_camera_ring(rec, ids, centres):
    """Similarity putting the object centre at the origin and the ring's axis on +Z.

    The axis is the normal of the plane best fitting the camera centres; its
    sign follows the cameras' "up" (image -y) direction. Scale: median camera
    distance becomes 1, so depth thresholds later are scene-independent.
    """
    pts = np.array([p.xyz for p in rec.points3D.values()]) if rec.num_points3D() else centres
    centre = np.median(pts, axis=0)
    _, _, vt = np.linalg.svd(centres - centres.mean(axis=0))
    axis = vt[2]
    ups = np.array([-rec.image(i).cam_from_world().rotation.matrix()[1] for i in ids])
    if (ups @ axis).sum() < 0:
        axis = -axis
    x = np.cross([0.0, 1.0, 0.0], axis) if abs(axis[1]) < 0.9 else np.cross([1.0, 0.0, 0.0], axis)
    x /= np.linalg.norm(x)
    rot = np.stack([x, np.cross(axis, x), axis])   # rows: new axes in old coords
    scale = 1.0 / max(np.median(np.linalg.norm(centres - centre, axis=1)), 1e-12)
    return pycolmap.Sim3d(scale, pycolmap.Rotation3d(rot), -scale * rot @ centre)


if __name__ == "__main__":
    command("sfm", run)
