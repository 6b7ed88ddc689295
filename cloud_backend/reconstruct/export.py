"""Stage 7 — `result.zip`: textured model, COLMAP text model, report and preview.

The zip is written under a temporary name and renamed, so the job system
never ships half an archive.
"""
import json
import pathlib
import shutil
import zipfile

import cv2
import numpy as np

from openscan_protocol import result as result_files
from openscan_protocol.atomic import commit

from . import formats, raster, report_html, sfm, texture
from .pipeline import STAGES
from .stage import command, fresh_dir, is_done, no_progress, read_marker, write_json

STAGE_NAMES = [name for name, _, _ in STAGES if name != "export"]


def run(layout, options, progress=no_progress):
    stats = {name: read_marker(layout.work, name) for name in STAGE_NAMES if is_done(layout.work, name)}
    return main(layout.textured, layout.texture_image, layout.sparse, layout.ingest, stats,
                layout.export, layout.result, options, progress, images=layout.images)


def main(textured, texture_image, sparse, ingest_info, stage_stats, out, result, options, progress=no_progress,
         images=None):
    """The model files, the COLMAP text model, report.json, report.html and preview.png in `out`
    (`images`: the photos, for report.html's thumbnails of left-out ones), all of them zipped
    into `result` (written under a temporary name, then renamed)."""
    out = fresh_dir(out)
    rec = sfm.load(sparse)
    rec.write_text(fresh_dir(out / "sparse"))
    verts, normals, uv, faces = texture.read_textured(textured)
    tex = cv2.cvtColor(cv2.imread(str(texture_image), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    formats.write_obj(out, verts, normals, uv, faces)
    shutil.copyfile(texture_image, out / result_files.TEXTURE)
    formats.write_glb(out / result_files.GLB, verts, uv, faces, texture_image)
    progress(0.2)
    render_preview(rec, verts, faces, uv, tex, out / result_files.PREVIEW, int(options["preview_size"]))
    progress(0.6)
    report = build_report(ingest_info, stage_stats, options)
    write_json(out / result_files.REPORT, report)
    report_html.write(out / result_files.REPORT_HTML, report, out / result_files.PREVIEW, rec, images)
    tmp = pathlib.Path(f"{result}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in result_files.MODEL_FILES:
            # the texture PNG and GLB are already compressed
            archive.write(out / name, name,
                          zipfile.ZIP_STORED if name.endswith((".png", ".glb")) else zipfile.ZIP_DEFLATED)
        for name in ("cameras.txt", "images.txt", "points3D.txt"):
            archive.write(out / "sparse" / name, f"sparse/{name}")
        archive.write(out / result_files.REPORT, result_files.REPORT)
        archive.write(out / result_files.REPORT_HTML, result_files.REPORT_HTML)
        archive.write(out / result_files.PREVIEW, result_files.PREVIEW, zipfile.ZIP_STORED)
    commit(tmp, result)
    progress(1.0)
    return {"result_bytes": pathlib.Path(result).stat().st_size}


def build_report(ingest_info, stats, options):
    info = json.loads(pathlib.Path(ingest_info).read_text())
    sfm_stats = stats.get("sfm", {})
    return {
        "images_given": info["images_given"],
        "images_used": len(info["images"]),
        "images_skipped": info["skipped"],
        "images_registered": sfm_stats.get("images_registered"),
        "images_unregistered": sfm_stats.get("images_unregistered"),
        "reprojection_error_px": sfm_stats.get("mean_reprojection_error_px"),
        "sparse_points": sfm_stats.get("points"),
        "dense_points": stats.get("dense", {}).get("fused_points"),
        "dense_method": stats.get("dense", {}).get("method"),
        "mesh_faces": stats.get("mesh", {}).get("faces"),
        "scale_source": sfm_stats.get("scale_source"),
        "units": sfm_stats.get("units"),
        "manifest": info["manifest_note"],
        "fixed_intrinsics": sfm_stats.get("fixed_intrinsics"),
        "pair_strategy": stats.get("features", {}).get("pair_strategy"),
        "timing_s": {name: s.get("seconds") for name, s in stats.items()},
        "cpu_s": {name: s.get("cpu_seconds") for name, s in stats.items() if "cpu_seconds" in s},
        "options": options,
        "photos": report_html.photo_table(info, sfm_stats),   # per photo: status, reason, error, pose, angles
    }


def render_preview(rec, verts, faces, uv_coords, tex, path, size):
    """The textured model seen from the best photo's direction, upright (+z up), lit from the camera.
    uv_coords in [0, 1] with v down the texture image's rows."""
    best = rec.image(max(rec.reg_image_ids(), key=lambda i: rec.image(i).num_points3D))
    origins, dirs, (h, w) = preview_rays(verts, best.projection_center(), size)
    _, ids, bary = raster.cast(raster.scene_of(verts, faces), origins, dirs)
    hit = ids >= 0
    picture = np.full((h * w, 3), 255, np.uint8)
    if hit.any():
        uv = raster.interpolate(uv_coords, faces, ids[hit], bary[hit])
        th, tw = tex.shape[:2]
        pix = np.column_stack([uv[:, 0] * tw, uv[:, 1] * th])
        colour = texture.sample(tex, pix)
        tri = verts[faces[ids[hit]]]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
        d = dirs[hit] / np.linalg.norm(dirs[hit], axis=1, keepdims=True)
        shade = 0.8 + 0.2 * np.abs((normal * d).sum(1))   # the photos already carry the lighting
        picture[hit] = np.clip(colour * shade[:, None], 0, 255).astype(np.uint8)
    cv2.imwrite(str(path), cv2.cvtColor(picture.reshape(h, w, 3), cv2.COLOR_RGB2BGR))


def preview_rays(verts, eye_hint, size):
    """Rays of a virtual camera looking at the model from eye_hint's side with +z up,
    framing the model's bounding sphere."""
    lo, hi = verts.min(0), verts.max(0)
    centre, radius = (lo + hi) / 2, np.linalg.norm(hi - lo) / 2
    view = eye_hint - centre
    view /= np.linalg.norm(view)
    eye = centre + view * radius * 3.0
    fwd = -view
    up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.95 else np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    rot = np.stack([right, down, fwd])                     # cam_from_world rotation
    focal = size / 2 / np.tan(np.arcsin(1 / 3.0)) * 0.95   # bounding sphere fills the frame
    h = w = size
    ys, xs = np.mgrid[0:h, 0:w]
    dirs_cam = np.column_stack([(xs.ravel() + 0.5 - w / 2) / focal, (ys.ravel() + 0.5 - h / 2) / focal,
                                np.ones(w * h)])
    return np.broadcast_to(eye, dirs_cam.shape), dirs_cam @ rot, (h, w)


if __name__ == "__main__":
    command("export", run)
