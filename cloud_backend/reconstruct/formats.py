"""The model files owners open: OBJ (+ MTL, texture image) and binary glTF, textured or with
per-vertex colours (texture off)."""
import pathlib

import numpy as np

from openscan_protocol import result


def write_obj(out, verts, normals, uv, faces):
    """model.obj + model.mtl in folder `out`, the texture image named result.TEXTURE beside them."""
    with open(out / result.MTL, "w") as f:
        f.write(f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {result.TEXTURE}\n")
    f_idx = faces + 1
    with open(out / result.OBJ, "w") as f:
        f.write(f"mtllib {result.MTL}\nusemtl material0\n")
        write_rows(f, "v %.6f %.6f %.6f", verts)
        write_rows(f, "vt %.6f %.6f", np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]))   # OBJ v points up
        write_rows(f, "vn %.4f %.4f %.4f", normals)
        write_rows(f, "f %d/%d/%d %d/%d/%d %d/%d/%d", np.repeat(f_idx, 3, axis=1))


def write_rows(file, fmt, rows, chunk=50_000):
    """`fmt` % row, one line per row: the bytes np.savetxt writes, one % per chunk of rows
    instead of one per row (templeRing's 200k-face OBJ: 1.8 s instead of 5.0 s)."""
    rows = np.asarray(rows)
    line = fmt + "\n"
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        file.write((line * len(part)) % tuple(part.ravel().tolist()))


def write_glb(path, verts, uv, faces, texture_path):
    import trimesh

    visual = trimesh.visual.TextureVisuals(
        uv=np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]), image=EncodedPNG(texture_path)
    )
    trimesh.Trimesh(vertices=verts, faces=faces, visual=visual, process=False).export(path)


class EncodedPNG:
    """The texture PNG as written, for trimesh's glTF writer: it embeds what `save` writes,
    and would re-encode a PIL image (templeRing's 2048 px texture: 1.4 s of PIL's deflate)."""
    format = "PNG"

    def __init__(self, path):
        self.data = pathlib.Path(path).read_bytes()

    def save(self, file, format=None):
        file.write(self.data)


def write_obj_coloured(path, verts, normals, faces, colours):
    """model.obj without material: `v x y z r g b` (0..1), the vertex-colour extension that
    MeshLab, Blender and most viewers read."""
    f_idx = faces + 1
    with open(path, "w") as f:
        write_rows(f, "v %.6f %.6f %.6f %.4f %.4f %.4f", np.column_stack([verts, np.asarray(colours, float)[:, :3] / 255.0]))
        write_rows(f, "vn %.4f %.4f %.4f", normals)
        write_rows(f, "f %d//%d %d//%d %d//%d", np.repeat(f_idx, 2, axis=1))


def write_glb_coloured(path, verts, faces, colours):
    import trimesh

    rgba = np.column_stack([np.asarray(colours, np.uint8)[:, :3], np.full(len(verts), 255, np.uint8)])
    trimesh.Trimesh(vertices=verts, faces=faces, vertex_colors=rgba, process=False).export(path)
