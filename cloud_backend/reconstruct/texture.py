"""Stage 6 — UV atlas (atlas.py) and a texture projected from the photos.

Every texel takes a weighted blend of the `texture_views_per_texel` views that
see it most head-on and unoccluded (occlusion: depth rendered per view by ray
casting). Weights vary smoothly over the surface, so texels on both sides of
an atlas seam blend the same views and the seam does not show.
Writes the textured mesh (`textured.npz`: vertices, normals, uv, faces) and its texture
image; export.py turns them into the model files.
"""
import collections
import pathlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import open3d as o3d

from . import atlas, raster, sfm
from .stage import command, fresh_dir, no_progress

CHUNK = 1 << 22   # texels blended at once


def run(layout, options, progress=no_progress):
    return main(layout.mesh, layout.sparse, layout.images, layout.textured, layout.texture_image, options, progress)


def main(mesh_path, sparse, images, textured, texture_image, options, progress=no_progress):
    """UV atlas of the mesh (`textured`: vertices, normals, uv, uv faces) and its texture image."""
    fresh_dir(pathlib.Path(textured).parent)
    mesh = o3d.io.read_triangle_mesh(str(mesh_path))
    mesh.compute_vertex_normals()
    verts, faces = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    normals = np.asarray(mesh.vertex_normals)
    rec = sfm.load(sparse)
    size = texture_size(rec, verts, faces, int(options["texture_size"]), options["uv_atlas"])
    (vmap, uv_faces, uv), atlas_kind = atlas.unwrap(verts, faces, size, options["uv_atlas"])
    progress(0.35)
    ids, bary = atlas.texels(atlas_kind, uv_faces, uv, size)
    covered = ids >= 0
    pos = raster.interpolate(verts[vmap], uv_faces, ids[covered], bary[covered]).astype(np.float32)
    nrm = raster.interpolate(normals[vmap], uv_faces, ids[covered], bary[covered]).astype(np.float32)
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True) + 1e-12
    progress(0.45)
    colours, seen = project_views(rec, images, verts, faces, pos, nrm,
                                  int(options["texture_views_per_texel"]),
                                  lambda f: progress(0.45 + 0.45 * f))
    image = np.zeros((size * size, 3), np.float32)
    image[np.flatnonzero(covered)[seen]] = colours[seen]
    filled = np.zeros(size * size, bool)
    filled[np.flatnonzero(covered)[seen]] = True
    texture = fill_gutters(image.reshape(size, size, 3), filled.reshape(size, size))
    cv2.imwrite(str(texture_image), cv2.cvtColor(np.clip(texture, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    np.savez(textured, vertices=verts[vmap], normals=normals[vmap], uv=uv, faces=uv_faces)
    progress(1.0)
    return {
        "texture_size": size, "atlas": atlas_kind, "charts_texels_covered": float(covered.mean()),
        "texels_seen": float(seen.mean()) if len(seen) else 0.0,
    }


def texture_size(rec, verts, faces, max_size, method="auto", min_size=512, max_samples=100_000):
    """Smallest texture (a multiple of 256 px, up to max_size) with a texel for every photo pixel.

    Each face needs as many texels as it covers pixels in the photo that sees it
    largest. templeRing (640x480 photos) thus gets a 1536 px texture instead of
    2048: about half the projection work and file size for the same detail.
    The pixels of `max_samples` random faces stand for all of them: every face against
    every view took 17 s of the texture stage on a 1M-face mesh of 130 photos, and the
    side's sampling error (~0.2 %) is below the 256 px it is rounded up to.
    """
    sample = faces
    if len(faces) > max_samples:
        sample = faces[np.random.default_rng(0).choice(len(faces), max_samples, replace=False)]
    tri = verts[sample]
    best = np.zeros(len(sample))
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        pose = image.cam_from_world()
        cam = tri.reshape(-1, 3) @ pose.rotation.matrix().T + pose.translation
        if (cam[:, 2] <= 0).any():
            continue
        pix = image.camera.img_from_cam(cam, check_cheirality=False).reshape(-1, 3, 2)
        e1, e2 = pix[:, 1] - pix[:, 0], pix[:, 2] - pix[:, 0]
        area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        np.maximum(best, area, out=best)
    side = atlas.size_for(len(faces), best.sum() * len(faces) / len(sample), method)
    size = 256 * int(np.ceil(side / 256))
    return int(min(max(size, min_size), max_size))


def project_views(rec, images_dir, verts, faces, pos, nrm, keep, progress):
    """Blend of the `keep` best-facing unoccluded views per surface sample."""
    scene = raster.scene_of(verts, faces)
    n = len(pos)
    top_w = np.zeros((n, keep), np.float32)
    top_c = np.zeros((n, keep, 3), np.uint8)      # 8-bit like the photos: a third of float32's memory
    top_v = np.full((n, keep), -1, np.int16)      # which view each kept colour came from
    ids = sorted(rec.reg_image_ids())
    extent = np.linalg.norm(verts.max(0) - verts.min(0))
    # facing = n.(C - p)/|C - p| expanded, so each view costs two mat-vec products
    n_dot_p = (nrm * pos).sum(1)
    p_sq = (pos * pos).sum(1)
    cameras = {image.camera_id: image.camera for image in map(rec.image, ids)}
    rays = {camera_id: camera_ray_grid(camera) for camera_id, camera in cameras.items()}   # one per rig camera

    def view_samples(image_id):
        """(samples, their weights, their colours) that view `image_id` sees."""
        image = rec.image(image_id)
        camera, pose = image.camera, image.cam_from_world()
        # float32 like the samples: a float64 centre or rotation would turn every product over
        # millions of samples into float64 (6x slower)
        centre = image.projection_center().astype(np.float32)
        dist = np.sqrt(np.maximum(p_sq - 2 * (pos @ centre) + centre @ centre, 1e-18))
        facing = (nrm @ centre - n_dot_p) / dist
        cand = np.flatnonzero(facing > 0.3)   # views beyond ~70 degrees only smear the texture
        cam_pts = pos[cand] @ pose.rotation.matrix().T.astype(np.float32) + pose.translation.astype(np.float32)
        pix = camera.img_from_cam(cam_pts, check_cheirality=False)
        inside = (cam_pts[:, 2] > 0) & (pix[:, 0] >= 0) & (pix[:, 1] >= 0) \
            & (pix[:, 0] < camera.width - 1) & (pix[:, 1] < camera.height - 1)
        cand, cam_pts, pix = cand[inside], cam_pts[inside], pix[inside]
        depth = render_depth(scene, pose, *rays[image.camera_id])
        scale = depth.shape[1] / camera.width
        rendered = depth[(pix[:, 1] * scale).astype(int).clip(0, depth.shape[0] - 1),
                         (pix[:, 0] * scale).astype(int).clip(0, depth.shape[1] - 1)]
        visible = cam_pts[:, 2] <= rendered * 1.01 + 0.002 * extent
        cand, pix = cand[visible], pix[visible]
        bgr = cv2.imread(str(images_dir / image.name), cv2.IMREAD_COLOR)
        colour = np.clip(sample(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), pix) + 0.5, 0, 255).astype(np.uint8)
        return cand, facing[cand] ** 4, colour

    # two views are projected at a time (numpy, OpenCV and Embree release the GIL); the kept
    # views are updated in view order, so the texture does not depend on timing
    with ThreadPoolExecutor(2) as pool:
        for k, (cand, weight, colour) in enumerate(in_order(pool, view_samples, ids)):
            slot = np.argmin(top_w[cand], axis=1)     # replace the weakest kept view
            better = weight > top_w[cand, slot]
            rows, slot = cand[better], slot[better]
            top_w[rows, slot] = weight[better]
            top_c[rows, slot] = colour[better]
            top_v[rows, slot] = k
            progress((k + 1) / len(ids))
    gains = exposure_gains(top_c, top_w, top_v, len(ids))
    total = top_w.sum(1)
    seen = total > 0
    colours = np.zeros((n, 3), np.float32)
    for start in range(0, n, CHUNK):   # blend in chunks: no float copy of every kept colour
        rows = slice(start, start + CHUNK)
        weighted = top_w[rows, :, None] * top_c[rows] * gains[top_v[rows]]   # view -1 takes the ones row
        colours[rows] = weighted.sum(1) / np.maximum(total[rows], 1e-12)[:, None]
    return colours, seen


def in_order(pool, fn, items, ahead=2):
    """fn(item) for each item in order, the next `ahead` computed on the pool meanwhile."""
    pending = collections.deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def exposure_gains(colours, weights, views, n_views, rounds=6, max_samples=500_000, seed=0):
    """Per-view RGB gains that make the views agree where they overlap (flash, auto exposure,
    white balance), so texels blended from different views meet without a seam.

    colours (n, k, 3), weights (n, k), views (n, k; -1 = empty) as kept per texel. Each round
    sets a view's gain to the median ratio of the current blend to its own colours; gains
    are normalised to a geometric mean of 1, so the overall brightness stays the photos'. A
    sample of `max_samples` texels seen twice or more (~10k a view on 49 views) fixes a median.
    Returns (n_views + 1, 3): the last row (empty slots) is ones.
    """
    gains = np.ones((n_views + 1, 3), np.float32)
    shared = np.flatnonzero((views >= 0).sum(1) >= 2)
    if len(shared) > max_samples:
        shared = np.random.default_rng(seed).choice(shared, max_samples, replace=False)
    c, w, v = colours[shared].astype(np.float32), weights[shared], views[shared]
    usable = (c.min(axis=2) > 8) & (v >= 0)      # dark or clipped-to-black samples say nothing
    usable_views = v[usable]
    order = np.argsort(usable_views, kind="stable")  # the usable samples grouped by view, once
    bounds = np.searchsorted(usable_views[order], np.arange(n_views + 1))
    log_c = np.log(np.maximum(c, 1.0))
    for _ in range(rounds):
        corrected = c * gains[v]
        blend = (w[..., None] * corrected).sum(1) / np.maximum(w.sum(1), 1e-12)[:, None]
        ratio = (np.log(np.maximum(blend[:, None, :], 1.0)) - log_c)[usable][order]
        for view in range(n_views):
            if bounds[view + 1] - bounds[view] >= 50:
                gains[view] = np.exp(np.median(ratio[bounds[view]:bounds[view + 1]], axis=0))
        gains[:n_views] /= np.exp(np.log(gains[:n_views]).mean(axis=0))
    return gains


def camera_ray_grid(camera, max_side=640):
    """Camera-frame ray directions (unit z) of a depth render at most max_side wide."""
    scale = min(1.0, max_side / max(camera.width, camera.height))
    return raster.camera_grid(camera, scale)


def render_depth(scene, pose, dirs_cam, shape):
    """Depth along the optical axis of every pixel of the view (inf = background)."""
    rot = pose.rotation.matrix()
    centre = -rot.T @ pose.translation
    t_hit, _, _ = raster.cast(scene, np.broadcast_to(centre, dirs_cam.shape), dirs_cam @ rot)
    return t_hit.reshape(shape)


def sample(image, pix):
    """Bilinear colour lookup at float pixel positions (pixel centres at +0.5)."""
    n = len(pix)
    cols = 1024
    rows = -(-n // cols) if n else 1
    maps = np.zeros((rows * cols, 2), np.float32)
    maps[:n] = pix - 0.5
    out = cv2.remap(image, maps[:, 0].reshape(rows, cols), maps[:, 1].reshape(rows, cols),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(-1, 3)[:n].astype(np.float32)


def fill_gutters(image, filled):
    """Every texel not filled takes the colour of the nearest filled one, so a bilinear or
    mipmapped lookup at a chart's edge reads that chart's own colours (a blend of both sides
    of a gutter put the colours of unrelated surface along every grid atlas seam)."""
    if not filled.any():
        return image
    _, nearest = cv2.distanceTransformWithLabels((~filled).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    source = np.flatnonzero(filled.ravel())        # labels number the filled texels in scan order
    return image.reshape(-1, image.shape[-1])[source[nearest.ravel() - 1]].reshape(image.shape)


def read_textured(path):
    """(vertices, normals, uv, faces) as written by this stage; uv in [0, 1], v down the image."""
    data = np.load(path)
    return data["vertices"], data["normals"], data["uv"], data["faces"]


if __name__ == "__main__":
    command("texture", run)
