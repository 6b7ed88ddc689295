"""The model files owners open: OBJ (+ MTL, texture image) and binary glTF."""
import numpy as np

from openscan_protocol import result


def write_obj(out, verts, normals, uv, faces):
    """model.obj + model.mtl in folder `out`, the texture image named result.TEXTURE beside them."""
    with open(out / result.MTL, "w") as f:
        f.write(f"newmtl material0\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nillum 1\nmap_Kd {result.TEXTURE}\n")
    f_idx = faces + 1
    with open(out / result.OBJ, "w") as f:
        f.write(f"mtllib {result.MTL}\nusemtl material0\n")
        np.savetxt(f, verts, fmt="v %.6f %.6f %.6f")
        np.savetxt(f, np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]), fmt="vt %.6f %.6f")   # OBJ v points up
        np.savetxt(f, normals, fmt="vn %.4f %.4f %.4f")
        np.savetxt(f, np.repeat(f_idx, 3, axis=1), fmt="f %d/%d/%d %d/%d/%d %d/%d/%d")


def write_glb(path, verts, uv, faces, texture_path):
    import trimesh
    from PIL import Image

    visual = trimesh.visual.TextureVisuals(
        uv=np.column_stack([uv[:, 0], 1.0 - uv[:, 1]]), image=Image.open(texture_path)
    )
    trimesh.Trimesh(vertices=verts, faces=faces, visual=visual, process=False).export(path)
