"""Stage 7 — `result.zip`: the model files of the scan's `formats`, the COLMAP text model,
report and preview.

One function per output file (write_obj, write_glb, write_stl, write_ply, render_preview,
build_report); `main` calls those the options ask for. Formats follow
openscan_protocol.result.FORMATS: obj (model.obj + model.mtl + texture.png), glb, stl (print-
ready solid, printable.py), ply (the fused dense points). With texture off there is no texture
stage: the OBJ (no MTL, no texture) and the GLB carry per-vertex colours from the fused points.
The zip is written under a temporary name and renamed, so the job system never ships half an
archive.
"""
import json
import pathlib
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from openscan_protocol import result as result_files
from openscan_protocol.atomic import commit

from . import formats, ingest, printable, raster, report_html, sfm, texture
from .pipeline import STAGES
from .stage import command, fresh_dir, is_done, no_progress, read_marker, write_json

STAGE_NAMES = [name for name, _, _ in STAGES if name != "export"]
STORED = (".png", ".glb", ".stl")   # already compressed, or not worth deflating


def run(layout, options, progress=no_progress):
    stats = {name: read_marker(layout.work, name) for name in STAGE_NAMES if is_done(layout.work, name)}
    return main(layout.textured, layout.texture_image, layout.mesh, layout.closed_mesh, layout.fused, layout.sparse,
                layout.frame, layout.ingest, stats, layout.export, layout.result, options, progress,
                images=layout.images)


def main(textured, texture_image, mesh_path, closed_path, fused, sparse, frame, ingest_info, stage_stats, out, result,
         options, progress=no_progress, images=None):
    """The files of the chosen formats, the COLMAP text model, report.json, report.html and
    preview.png in `out` (`images`: the photos, for report.html's thumbnails of left-out ones),
    all of them zipped into `result` (written under a temporary name, then renamed)."""
    out = fresh_dir(out)
    chosen = options["formats"]
    rec = sfm.load(sparse)
    rec.write_text(fresh_dir(out / "sparse"))
    with ThreadPoolExecutor(1) as pool:
        # the print solid (the longest file to make) is built beside the others: its numpy,
        # scipy and open3d steps release the GIL, so the two cores share the work
        solid = pool.submit(write_stl, out / result_files.STL, mesh_path, closed_path, frame, ingest_info,
                            options) if "stl" in chosen else None
        model = load_model(textured, texture_image, mesh_path, fused, options["texture"])
        if "obj" in chosen:
            write_obj(out, model)
        if "glb" in chosen:
            write_glb(out / result_files.GLB, model)
        if "ply" in chosen:
            write_ply(out / result_files.PLY, fused)
        progress(0.3)
        render_preview(rec, model, out / result_files.PREVIEW, int(options["preview_size"]))
        progress(0.5)
        printed = solid.result() if solid else None
    progress(0.8)
    report = build_report(ingest_info, stage_stats, options, printed)
    write_json(out / result_files.REPORT, report)
    report_html.write(out / result_files.REPORT_HTML, report, out / result_files.PREVIEW, rec, images)
    write_zip(out, result, chosen)
    progress(1.0)
    return {"result_bytes": pathlib.Path(result).stat().st_size, "files": sorted(zip_names(out, chosen)),
            "print": printed}


def load_model(textured, texture_image, mesh_path, fused, textured_wanted):
    """The model the files show: the textured mesh (uv + texture image), or with texture off
    the mesh with a colour per vertex from the nearest fused point."""
    if textured_wanted:
        verts, normals, uv, faces = texture.read_textured(textured)
        tex = cv2.cvtColor(cv2.imread(str(texture_image), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return {"verts": verts, "normals": normals, "uv": uv, "faces": faces, "texture": tex,
                "texture_path": texture_image, "colours": None}
    import trimesh
    from scipy.spatial import cKDTree

    mesh = trimesh.load(mesh_path, process=False, force="mesh")
    points = trimesh.load(fused, process=False)
    colours = np.full((len(mesh.vertices), 3), 180, np.uint8)
    point_colours = getattr(points, "colors", None)
    if point_colours is not None and len(point_colours) == len(points.vertices) and len(points.vertices):
        _, nearest = cKDTree(points.vertices).query(mesh.vertices)
        colours = np.asarray(point_colours)[nearest, :3].astype(np.uint8)
    return {"verts": np.asarray(mesh.vertices), "normals": np.asarray(mesh.vertex_normals),
            "uv": None, "faces": np.asarray(mesh.faces), "texture": None, "texture_path": None,
            "colours": colours}


def write_obj(out, model):
    """model.obj (+ model.mtl and texture.png when textured; vertex colours otherwise)."""
    if model["uv"] is not None:
        formats.write_obj(out, model["verts"], model["normals"], model["uv"], model["faces"])
        shutil.copyfile(model["texture_path"], out / result_files.TEXTURE)
    else:
        formats.write_obj_coloured(out / result_files.OBJ, model["verts"], model["normals"], model["faces"],
                                   model["colours"])


def write_glb(path, model):
    if model["uv"] is not None:
        formats.write_glb(path, model["verts"], model["uv"], model["faces"], model["texture_path"])
    else:
        formats.write_glb_coloured(path, model["verts"], model["faces"], model["colours"])


def write_ply(path, fused):
    """model.ply: the fused dense points as pycolmap wrote them (binary; positions, normals, colours)."""
    shutil.copyfile(fused, path)


def write_stl(path, mesh_path, closed_path, frame, ingest_info, options):
    """model.stl, binary, in the model's units (mm when the scale is known). objecttype
    'object': the watertight solid of printable.solidify around the untrimmed surface
    (closed_path: closed where the photos did not look); 'scene': the trimmed mesh as it is.
    Returns the report's `print` entry: the checks as measured on the written solid."""
    import trimesh

    metric = sfm.read_frame(frame)["units"] == "mm"
    if options["objecttype"] == "scene":
        mesh = trimesh.load(mesh_path, process=False, force="mesh")
        verts, faces, info = printable.as_is(mesh.vertices, mesh.faces)
    else:
        mesh = trimesh.load(closed_path, process=False, force="mesh")
        manifest = ingest.read(ingest_info)["manifest"]
        base_z = manifest.plate_z_mm if manifest is not None and metric else None
        verts, faces, info = printable.solidify(mesh.vertices, mesh.faces, int(options["print_voxels"]),
                                                base_z=base_z, max_faces=int(options["mesh_faces"]))
    trimesh.Trimesh(verts, faces, process=False).export(path, file_type="stl")
    return {
        "watertight": info["watertight"],
        "winding_consistent": info["winding_consistent"],
        "shells": info["shells"],
        "faces": info["faces"],
        "volume_mm3": round(info["volume"], 1) if metric and info["volume"] is not None else None,
        "bbox_mm": [round(x, 2) for x in info["bbox"]] if metric and info["bbox"] else None,
        "units": "mm" if metric else "arbitrary (no rig geometry: scale unknown)",
        "closed": options["objecttype"] != "scene",
    }


def zip_names(out, chosen):
    """The model files of the chosen formats that were written (no MTL or texture untextured)."""
    return [name for fmt in chosen for name in result_files.FORMATS[fmt] if (out / name).exists()]


def write_zip(out, result, chosen):
    """Model files, sparse/*.txt, report.json, report.html (when written), preview.png."""
    extra = [name for name in (result_files.REPORT, result_files.REPORT_HTML, result_files.PREVIEW)
             if (out / name).exists()]
    tmp = pathlib.Path(f"{result}.tmp")
    # deflate level 4: a quarter of level 6's time on a big OBJ for a 4 % larger archive
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=4) as archive:
        for name in zip_names(out, chosen) + extra:
            archive.write(out / name, name, zipfile.ZIP_STORED if name.endswith(STORED) else zipfile.ZIP_DEFLATED)
        for name in ("cameras.txt", "images.txt", "points3D.txt"):
            archive.write(out / "sparse" / name, f"sparse/{name}")
    commit(tmp, result)


def build_report(ingest_info, stats, options, printed=None):
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
        "print": printed,
        "options": options,
        "photos": report_html.photo_table(info, sfm_stats),   # per photo: status, reason, error, pose, angles
    }


def render_preview(rec, model, path, size):
    """The model seen from the best photo's direction, upright (+z up), lit from the camera:
    textured (uv in [0, 1], v down the texture image's rows) or with its vertex colours."""
    verts, faces = model["verts"], model["faces"]
    best = rec.image(max(rec.reg_image_ids(), key=lambda i: rec.image(i).num_points3D))
    origins, dirs, (h, w) = preview_rays(verts, best.projection_center(), size)
    _, ids, bary = raster.cast(raster.scene_of(verts, faces), origins, dirs)
    hit = ids >= 0
    picture = np.full((h * w, 3), 255, np.uint8)
    if hit.any():
        if model["uv"] is not None:
            uv = raster.interpolate(model["uv"], faces, ids[hit], bary[hit])
            th, tw = model["texture"].shape[:2]
            colour = texture.sample(model["texture"], np.column_stack([uv[:, 0] * tw, uv[:, 1] * th]))
        else:
            colour = raster.interpolate(model["colours"].astype(np.float32), faces, ids[hit], bary[hit])
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
