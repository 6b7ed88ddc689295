"""UV atlases: xatlas charts for small meshes, a packed triangle grid for large ones.

xatlas makes few, large charts (nicest to edit), but on noisy photogrammetry
meshes it produces thousands of charts and its packing took 30-70 s for 30k
faces on 2 cores. The grid atlas gives every pair of triangles that share an edge
one square cell, split along that edge, so the texture runs on across it; cells
follow each other in space (z-order of their centres), so a viewer's mipmaps
blend neighbouring surface, not far-off colours. O(n), uniform texel density.

Both return (vmap, uv_faces, uv): atlas vertex -> mesh vertex, faces into the
atlas vertices, and uv in [0, 1] with v pointing down the image rows.
"""
import numpy as np

from . import raster

XATLAS_MAX_FACES = 10000
GRID_PAD = 1.0
GRID_PAIRED = 0.88   # share of a Poisson mesh's faces that grid_cells pairs up (measured 0.875-0.88)
XATLAS_FILL = 0.6   # share of the atlas its charts cover (measured 0.55-0.7)


def kind(n_faces, method="auto"):
    return "xatlas" if method == "xatlas" or (method == "auto" and n_faces <= XATLAS_MAX_FACES) else "grid"


def unwrap(verts, faces, size, method="auto"):
    if kind(len(faces), method) == "xatlas":
        return xatlas_atlas(verts, faces, size), "xatlas"
    return grid_atlas(verts, faces, size), "grid"


def size_for(n_faces, texels, method="auto"):
    """Atlas side (px) giving the faces about `texels` texels in all, padding included."""
    if kind(n_faces, method) == "xatlas":
        return float(np.sqrt(texels / XATLAS_FILL))
    # each pair of faces gets a square cell with sides of (cell - 2 pad) texels; a face left
    # without a partner has a cell alone
    per_row = np.ceil(np.sqrt(n_faces * (1 - GRID_PAIRED / 2)))
    cell = 2 * GRID_PAD + max(np.sqrt(2.0 * texels / max(n_faces, 1)), 2.0)
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


def grid_atlas(verts, faces, size, pad=GRID_PAD):
    """Each cell holds two faces that share an edge, as right triangles meeting along their
    hypotenuse (that edge), one pad from the cell's border; a face with no partner left
    has a cell alone. Returns (vmap, uv_faces, uv) with the atlas faces the mesh faces in
    order (each with its own three atlas vertices)."""
    cells, apex = grid_cells(verts, faces)
    per_row = int(np.ceil(np.sqrt(len(cells))))
    cell = size / per_row
    if cell < 2 * pad + 2:
        raise ValueError(f"texture of {size} px is too small for {len(faces)} faces")
    n = len(faces)
    slot = np.zeros(n, np.int64)            # cell index * 2 + 0 (lower-left) or 1 (upper-right)
    used = cells >= 0
    slot[cells[used]] = (np.arange(2 * len(cells)).reshape(-1, 2))[used]
    c, odd = np.divmod(slot, 2)
    col, row = _grid_places(len(cells), per_row)
    cx, cy = col[c] * cell, row[c] * cell
    lo, hi = pad, cell - pad
    # corners by role: apex, then the shared edge as the face runs along it; the upper-right
    # face is the lower-left one turned about the cell centre, so its edge runs backwards
    # over the same two corners, as the mesh's other face does
    template_a = np.array([[lo, lo], [hi, lo], [lo, hi]])
    templates = np.where((odd == 1)[:, None, None], cell - template_a[None], template_a[None])
    roles = (np.arange(3)[None, :] - apex[:, None]) % 3         # role of each of a face's vertices
    corners = np.take_along_axis(templates, roles[:, :, None], axis=1)
    uv = (corners + np.stack([cx, cy], axis=1)[:, None, :]) / size
    return faces.reshape(-1).astype(np.int64), np.arange(3 * n).reshape(n, 3), uv.reshape(-1, 2)


def grid_cells(verts, faces, rounds=8, seed=0):
    """(cells (m, 2): the faces of each cell, -1 = an empty slot; apex (n,): each face's vertex
    opposite the edge it shares with its cell partner, 0 when alone). Faces pair up across
    edges they share with one other face, running the opposite way (consistent winding), by
    rounds of mutual choice with random priorities (~88 % pair up on Poisson meshes); cells
    are sorted by the z-order of their centres."""
    faces = np.asarray(faces, np.int64)
    n = len(faces)
    across = neighbours(faces)
    partner = np.full(n, -1, np.int64)
    priority = np.random.default_rng(seed).permutation(n)
    everyone = np.arange(n)
    for _ in range(rounds):
        free = partner < 0
        candidate = np.where((across >= 0) & free[across], across, -1)
        best = np.where(candidate >= 0, priority[candidate], -1).argmax(axis=1)
        choice = np.where(free, candidate[everyone, best], -1)
        mutual = (choice >= 0) & (choice[choice] == everyone)
        partner[mutual] = choice[mutual]
    apex = np.zeros(n, np.int64)
    paired = np.flatnonzero(partner >= 0)
    apex[paired] = np.argmax(across[paired] == partner[paired, None], axis=1)
    lead = np.flatnonzero((partner < 0) | (everyone < partner))   # one face per cell
    cells = np.column_stack([lead, partner[lead]])
    centre = np.asarray(verts, np.float64)[faces[lead]].mean(axis=1)
    return cells[np.argsort(_z_order(centre), kind="stable")], apex


def neighbours(faces):
    """(n, 3): the face across each face's edge k (from vertex k+1 to k+2) when exactly one
    other face has that edge, running the other way; -1 otherwise."""
    start, end = faces[:, [1, 2, 0]].ravel(), faces[:, [2, 0, 1]].ravel()
    key = np.minimum(start, end) * (int(faces.max(initial=0)) + 1) + np.maximum(start, end)
    order = np.argsort(key, kind="stable")
    _, first, count = np.unique(key[order], return_index=True, return_counts=True)
    a, b = order[first[count == 2]], order[first[count == 2] + 1]
    opposite = (start[a] < end[a]) != (start[b] < end[b])
    a, b = a[opposite], b[opposite]
    across = np.full(len(key), -1, np.int64)
    across[a], across[b] = b // 3, a // 3
    return across.reshape(-1, 3)


def _grid_places(count, per_row):
    """(column, row) of the first `count` cells of a per_row x per_row grid in 2D z-order:
    cells near in the sequence are near in the grid, across rows too."""
    bits = max(1, int(np.ceil(np.log2(per_row))))
    code = np.arange(4 ** bits, dtype=np.int64)
    col, row = np.zeros_like(code), np.zeros_like(code)
    for bit in range(bits):
        col |= ((code >> (2 * bit)) & 1) << bit
        row |= ((code >> (2 * bit + 1)) & 1) << bit
    keep = (col < per_row) & (row < per_row)
    return col[keep][:count], row[keep][:count]


def _z_order(points, bits=10):
    """Morton code of 3D points quantised to 2**bits per axis: near codes, near points."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    q = ((points - lo) / np.maximum(hi - lo, 1e-12) * (2 ** bits - 1)).astype(np.int64)
    code = np.zeros(len(points), np.int64)
    for bit in range(bits):
        for axis in range(3):
            code |= ((q[:, axis] >> bit) & 1) << (3 * bit + axis)
    return code


def texels(kind, uv_faces, uv, size):
    """For every texel centre: the face it lies in (-1 = gutter) and its barycentrics, as
    raster.texel_hits gives them; the grid atlas's from its layout (4096 px, 200k faces: 0.3 s
    instead of 7.1 s of ray casting)."""
    if kind == "grid":
        return grid_texels(uv_faces, uv, size)
    return raster.texel_hits(uv_faces, uv, size)


def grid_texels(uv_faces, uv, size, pad=GRID_PAD, block=512):
    """texels() of a grid_atlas, read back from its uv: each face's cell and half (below or
    above the diagonal) from its centre, and the barycentrics from the texel's place in that
    half; `block` rows at a time, so an 8192 px atlas needs no full-size temporaries."""
    n = len(uv_faces)
    corners = uv[uv_faces] * size                           # (n, 3, 2)
    legs = float(np.ptp(corners[..., 0], axis=1).max())
    cell = legs + 2 * pad
    per_row = round(size / cell)
    centre = corners.mean(axis=1)
    col_row = np.floor(centre / cell).astype(np.int64)
    upper = ((centre - col_row * cell).sum(axis=1) > cell).astype(np.int64)
    table = np.full((per_row * per_row + 1, 2), -1, np.int64)   # last row: outside every cell
    table[col_row[:, 1] * per_row + col_row[:, 0], upper] = np.arange(n)
    # the apex is the corner nearest the cell's inner (lower) or outer (upper) corner
    along = corners.sum(axis=2)
    apex = np.append(np.where(upper == 1, along.argmax(axis=1), along.argmin(axis=1)), 0)   # [-1]: gutter
    index, offset = np.divmod(np.arange(size) + 0.5, cell)
    index, local = index.astype(np.int64), (offset - pad).astype(np.float32)   # place along the legs
    valid = (index < per_row) & (local >= 0) & (local <= legs)
    ids = np.empty((size, size), np.int64)
    bary = np.empty((size, size, 2), np.float32)
    for top in range(0, size, block):
        rows = slice(top, top + block)
        s, t = local[None, :], local[rows, None]               # along x (columns), y (rows)
        half = s + t > legs
        cells = np.where(valid[rows, None] & valid[None, :], index[rows, None] * per_row + index[None, :],
                         per_row * per_row)
        face = table[cells, half.astype(np.int64)]
        ids[rows] = face
        # the texel's weights by corner role (apex, the shared edge's start, its end), the upper
        # half mirrored; then by vertex, as the face's apex says which vertex has which role
        w1 = np.where(half, legs - s, s) / legs
        w2 = np.where(half, legs - t, t) / legs
        w0 = 1 - w1 - w2
        k = apex[face]
        bary[rows, :, 0] = np.where(k == 0, w1, np.where(k == 1, w0, w2))
        bary[rows, :, 1] = np.where(k == 0, w2, np.where(k == 1, w1, w0))
    bary[ids < 0] = 0
    return ids.ravel(), bary.reshape(-1, 2)
