"""UV atlases: xatlas charts for small meshes, a packed triangle grid for large ones.

xatlas makes few, large charts (nicest to edit), but on noisy photogrammetry
meshes it produces thousands of charts and its packing took 30-70 s for 30k
faces on 2 cores. The grid atlas gives every pair of triangles its own square
cell: O(n), instant, uniform texel density; seams are everywhere, which the
texture stage hides by blending the same views on both sides and padding.

Both return (vmap, uv_faces, uv): atlas vertex -> mesh vertex, faces into the
atlas vertices, and uv in [0, 1] with v pointing down the image rows.
"""
import numpy as np

from . import raster

XATLAS_MAX_FACES = 10000
GRID_PAD = 1.0
XATLAS_FILL = 0.6   # share of the atlas its charts cover (measured 0.55-0.7)


def kind(n_faces, method="auto"):
    return "xatlas" if method == "xatlas" or (method == "auto" and n_faces <= XATLAS_MAX_FACES) else "grid"


def unwrap(verts, faces, size, method="auto"):
    if kind(len(faces), method) == "xatlas":
        return xatlas_atlas(verts, faces, size), "xatlas"
    return grid_atlas(faces, size), "grid"


def size_for(n_faces, texels, method="auto"):
    """Atlas side (px) giving the faces about `texels` texels in all, padding included."""
    if kind(n_faces, method) == "xatlas":
        return float(np.sqrt(texels / XATLAS_FILL))
    # each face gets a right triangle with legs of (cell - 4 pad) texels
    per_row = np.ceil(np.sqrt(-(-n_faces // 2)))
    cell = 4 * GRID_PAD + max(np.sqrt(2.0 * texels / max(n_faces, 1)), 2.0)
    return float(per_row * cell)


def xatlas_atlas(verts, faces, size):
    import xatlas

    atlas = xatlas.Atlas()
    atlas.add_mesh(np.asarray(verts, np.float32), np.asarray(faces, np.uint32))
    chart = xatlas.ChartOptions()
    chart.max_iterations = 1          # quality barely changes, time halves
    pack = xatlas.PackOptions()
    pack.resolution = size
    pack.padding = 2
    pack.bilinear = True
    atlas.generate(chart, pack)
    vmap, uv_faces, uv = atlas[0]
    return vmap.astype(np.int64), uv_faces.astype(np.int64), uv.astype(np.float64)


def grid_atlas(faces, size, pad=GRID_PAD):
    """Two right triangles per square cell, cells in a grid filling the atlas."""
    n = len(faces)
    cells = -(-n // 2)
    per_row = int(np.ceil(np.sqrt(cells)))
    cell = size / per_row
    if cell < 4 * pad + 2:
        raise ValueError(f"texture of {size} px is too small for {n} faces")
    k = np.arange(n)
    cx, cy = (k // 2) % per_row * cell, (k // 2) // per_row * cell
    lo, hi = pad, cell - pad
    # lower-left triangle, and the upper-right one mirrored through the cell centre,
    # each kept one pad away from the shared diagonal
    corners_a = np.array([[lo, lo], [hi - 2 * pad, lo], [lo, hi - 2 * pad]])
    corners_b = cell - corners_a
    corners = np.where((k % 2 == 0)[:, None, None], corners_a[None], corners_b[None])
    uv = (corners + np.stack([cx, cy], axis=1)[:, None, :]) / size
    return faces.reshape(-1).astype(np.int64), np.arange(3 * n).reshape(n, 3), uv.reshape(-1, 2)


def texels(kind, uv_faces, uv, size):
    """For every texel centre: the face it lies in (-1 = gutter) and its barycentrics, as
    raster.texel_hits gives them; the grid atlas's from its layout (4096 px, 200k faces: 0.3 s
    instead of 7.1 s of ray casting)."""
    if kind == "grid":
        return grid_texels(len(uv_faces), size)
    return raster.texel_hits(uv_faces, uv, size)


def grid_texels(n_faces, size, pad=GRID_PAD):
    """texels() of grid_atlas(faces, size): in each cell, face 2k's right triangle at the
    lower-left corner and face 2k+1's mirrored through the cell centre."""
    per_row = int(np.ceil(np.sqrt(-(-n_faces // 2))))
    cell = size / per_row
    legs = cell - 4 * pad
    index, offset = np.divmod(np.arange(size) + 0.5, cell)   # per texel row or column: cell, place in it
    index = index.astype(np.int64)
    ids = np.full((size, size), -1, np.int64)
    bary = np.zeros((size, size, 2), np.float32)
    for odd, local in ((0, offset - pad), (1, cell - offset - pad)):   # mirrored: the same right triangle
        s, t = local[None, :], local[:, None]                            # along x (columns), y (rows)
        face = 2 * (index[:, None] * per_row + index[None, :]) + odd
        inside = (s >= 0) & (t >= 0) & (s + t <= legs) & (face < n_faces)
        ids[inside] = face[inside]
        bary[..., 0][inside] = np.broadcast_to(s / legs, inside.shape)[inside]
        bary[..., 1][inside] = np.broadcast_to(t / legs, inside.shape)[inside]
    return ids.ravel(), bary.reshape(-1, 2)
