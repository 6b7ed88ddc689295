"""Ray casting helpers (open3d's Embree scene): texel -> surface, and views of a mesh."""
import numpy as np
import open3d as o3d


def scene_of(vertices, faces):
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.ascontiguousarray(vertices, np.float32)),
        o3d.core.Tensor(np.ascontiguousarray(faces, np.uint32)),
    )
    return scene


def cast(scene, origins, directions):
    """(t_hit, triangle id or -1, barycentric (b1, b2)) for each ray."""
    rays = np.concatenate([origins, directions], axis=1).astype(np.float32)
    out = scene.cast_rays(o3d.core.Tensor(rays))
    ids = out["primitive_ids"].numpy().astype(np.int64)
    ids[ids == o3d.t.geometry.RaycastingScene.INVALID_ID] = -1
    return out["t_hit"].numpy(), ids, out["primitive_uvs"].numpy()


def texel_hits(uv_faces, uv, size):
    """For every texel centre of a size x size atlas: triangle id (-1 = gutter) and barycentrics.

    uv in [0, 1] with v pointing down the image rows. The atlas is ray cast as a
    flat mesh, so rasterisation happens in compiled code.
    """
    verts = np.column_stack([uv[:, 0] * size, uv[:, 1] * size, np.zeros(len(uv))])
    scene = scene_of(verts, uv_faces)
    ys, xs = np.mgrid[0:size, 0:size]
    origins = np.column_stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(size * size)])
    directions = np.tile([0.0, 0.0, -1.0], (size * size, 1))
    _, ids, bary = cast(scene, origins, directions)
    return ids, bary


def interpolate(values, faces, ids, bary):
    """Per-hit barycentric interpolation of per-vertex `values` (ids must be >= 0)."""
    tri = faces[ids]
    w1, w2 = bary[:, :1], bary[:, 1:2]
    return (1 - w1 - w2) * values[tri[:, 0]] + w1 * values[tri[:, 1]] + w2 * values[tri[:, 2]]


def camera_grid(camera, scale=1.0):
    """Camera-frame ray directions (unit z, lens distortion undone) through the pixel
    centres of the camera rescaled by `scale`, and the (height, width) of that grid."""
    width, height = int(round(camera.width * scale)), int(round(camera.height * scale))
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.column_stack([(xs.ravel() + 0.5) / scale, (ys.ravel() + 0.5) / scale])
    normalized = camera.cam_from_img(pixels)
    return np.column_stack([normalized, np.ones(len(normalized))]), (height, width)
