"""A print-ready solid from the reconstructed surface: closed, manifold, outward-facing, one shell.

The surface from mesh.py is closed only where the photos saw it: trimmed where no points
were, open under the object. Patching such holes on the mesh (open3d Poisson, fill_holes)
left non-manifold edges, so the solid is rebuilt on a voxel grid instead:

1. mark the voxels the surface passes through (dense samples on every triangle) in a grid
   padded with empty voxels, `voxels` along the object's longest side;
2. close the base: the object stood on the turntable, so the footprint of its lowest slab is
   filled flat at the plane it stood on (the plate, when the rig says where it is);
3. fill the inside (scipy binary_fill_holes); if the surface leaks (a hole wider than the
   grid's closing radius), close it morphologically with a growing radius until it holds;
4. keep the largest connected part, then marching cubes (Lewiner) on the slightly blurred
   occupancy: a closed 2-manifold surface; the iso level puts it where the surface ran, not
   at the voxels' outer faces;
5. light Taubin smoothing (keeps the volume), decimation to a face budget when it stays
   watertight, and trimesh's checks (watertight, winding, volume > 0) for the report.
"""
import numpy as np
from scipy import ndimage

PAD = 3   # empty voxels around the object: marching cubes then closes every surface


def solidify(verts, faces, voxels=256, base_z=None, max_faces=None, closing_radii=(1, 2, 4, 8)):
    """(vertices, faces, info) of a watertight solid around the mesh (verts, faces).

    base_z: the plane the object stood on (turntable frame, +z up); None: the lowest slab
    of the mesh is closed flat. info: voxel size, closing radius, checks.
    """
    verts = np.asarray(verts, np.float64)
    faces = np.asarray(faces, np.int64)
    lo, hi = verts.min(0), verts.max(0)
    if base_z is not None:
        base_z = float(min(max(base_z, lo[2]), hi[2]))
        lo[2] = base_z
    pitch = float((hi - lo).max()) / voxels
    origin = lo - (PAD + max(closing_radii)) * pitch
    shape = np.ceil((hi - origin) / pitch).astype(int) + PAD + max(closing_radii) + 1
    surface = _rasterise(verts, faces, origin, pitch, shape)
    base = int(np.floor((lo[2] - origin[2]) / pitch))
    surface[:, :, :base] = False   # nothing below the plane it stood on
    _close_base(surface, base, max(2, int(round(0.02 * voxels))))
    solid, radius = _fill(surface, closing_radii)
    solid = _largest_component(solid)
    out_verts, out_faces = _surface(solid, origin, pitch)
    mesh = _finish(out_verts, out_faces, max_faces)
    return mesh.vertices, mesh.faces, {"voxel_size": pitch, "closing_radius_voxels": radius, **check(mesh)}


def check(mesh):
    """What a slicer cares about, measured with trimesh."""
    watertight = bool(mesh.is_watertight)
    return {
        "watertight": watertight,
        "winding_consistent": bool(mesh.is_winding_consistent),
        "shells": int(len(mesh.split(only_watertight=False))) if len(mesh.faces) else 0,
        "volume": float(mesh.volume) if watertight else None,
        "bbox": [float(x) for x in mesh.extents] if len(mesh.faces) else None,
        "faces": int(len(mesh.faces)),
    }


def as_is(verts, faces):
    """The mesh unchanged (objecttype 'scene'), with the same checks."""
    import trimesh

    mesh = trimesh.Trimesh(verts, faces, process=True)
    if mesh.is_watertight and mesh.volume < 0:
        mesh.invert()
    return mesh.vertices, mesh.faces, check(mesh)


def _rasterise(verts, faces, origin, pitch, shape):
    """Voxels the surface passes through: each triangle sampled on a barycentric grid finer
    than half a voxel (plus its corners), so no voxel it crosses is skipped."""
    grid = np.zeros(shape, bool)
    tri = verts[faces]
    longest = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max(1)
    steps = np.maximum(np.ceil(longest / (0.5 * pitch)).astype(int), 1)
    for n in np.unique(steps):
        sel = tri[steps == n]
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        a, b = i[keep] / n, j[keep] / n
        weights = np.stack([1 - a - b, a, b], axis=1)                 # (k, 3)
        for chunk in range(0, len(sel), max(1, 2_000_000 // len(weights))):
            part = sel[chunk:chunk + max(1, 2_000_000 // len(weights))]
            pts = np.einsum("kc,tcd->tkd", weights, part).reshape(-1, 3)
            idx = np.floor((pts - origin) / pitch).astype(int)
            idx = np.clip(idx, 0, np.array(shape) - 1)
            grid[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return grid


def _close_base(surface, base, slab):
    """Fill the footprint of the surface's lowest `slab` layers at the base layer, and every
    column of it from the base up to where the surface starts: the object ends in a flat,
    closed base on the plane it stood on (the surface may stop short of it: unseen)."""
    occupied = np.flatnonzero(surface[:, :, base:].any(axis=(0, 1)))
    if not len(occupied):
        return
    lowest = base + int(occupied[0])
    footprint = surface[:, :, lowest:lowest + slab].any(axis=2)
    footprint = ndimage.binary_fill_holes(ndimage.binary_closing(footprint, iterations=2))
    above = surface[:, :, base:]
    has = above.any(axis=2)
    first = np.where(has, np.argmax(above, axis=2), lowest - base + slab)   # lowest surface voxel per column
    z = np.arange(above.shape[2])[None, None, :]
    above |= footprint[..., None] & (z <= first[..., None])


def _fill(surface, radii):
    """Inside plus surface. A surface with a hole lets fill_holes leak (the inside stays
    empty): then close it morphologically, radius by radius, until the inside holds."""
    best = None
    for radius in (0, *radii):
        shell = ndimage.binary_dilation(surface, iterations=radius) if radius else surface
        solid = ndimage.binary_fill_holes(shell)
        if radius:
            solid = ndimage.binary_erosion(solid, iterations=radius, border_value=0) | surface
        inside = int(solid.sum() - surface.sum())
        if best is None or inside > best[2]:
            best = (solid, radius, inside)
        if inside > 0.5 * surface.sum():   # a real inside, not a leaked shell
            return solid, radius
    return best[0], best[1]


def _largest_component(solid):
    labels, count = ndimage.label(solid)
    if count <= 1:
        return solid
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == sizes.argmax()


def _surface(solid, origin, pitch, sigma=1.0):
    """Marching cubes (Lewiner) on the blurred occupancy. The marked voxels reach on average
    half a voxel beyond the surface they hold; the iso level that moves a blurred edge inwards
    by half a voxel puts the result back on it."""
    from scipy.stats import norm
    from skimage.measure import marching_cubes

    field = ndimage.gaussian_filter(solid.astype(np.float32), sigma)
    level = float(norm.cdf(0.5 / sigma))
    verts, faces, _, _ = marching_cubes(field, level=level, method="lewiner", allow_degenerate=False)
    return origin + verts * pitch, faces


def _finish(verts, faces, max_faces):
    import trimesh

    mesh = trimesh.Trimesh(verts, faces, process=True)
    if mesh.volume < 0:
        mesh.invert()
    trimesh.smoothing.filter_taubin(mesh, lamb=0.5, nu=-0.53, iterations=5)
    if max_faces and len(mesh.faces) > max_faces:
        smaller = _decimate(mesh, max_faces)
        if smaller is not None:
            mesh = smaller
    return mesh


def _decimate(mesh, max_faces):
    """fast-simplification's quadric decimation; kept only when the result is still one
    watertight, consistently wound shell (else the finer mesh is printed)."""
    import fast_simplification
    import trimesh

    verts, faces = fast_simplification.simplify(
        mesh.vertices.astype(np.float32), mesh.faces.astype(np.int32),
        target_reduction=1.0 - max_faces / len(mesh.faces))
    smaller = trimesh.Trimesh(verts.astype(np.float64), faces, process=True)
    if smaller.is_watertight and smaller.is_winding_consistent and len(smaller.split(only_watertight=False)) == 1:
        if smaller.volume < 0:
            smaller.invert()
        return smaller
    return None
