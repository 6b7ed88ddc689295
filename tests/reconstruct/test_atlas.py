"""UV atlases must map every face to its own, non-overlapping texture area."""
import numpy as np
import pytest

from cloud_backend.reconstruct import atlas, raster


def sphere(subdivisions):
    import open3d as o3d

    mesh = o3d.geometry.TriangleMesh.create_icosahedron(1.0).subdivide_loop(subdivisions)
    return np.asarray(mesh.vertices), np.asarray(mesh.triangles)


@pytest.mark.parametrize("method", ["grid", "xatlas"])
def test_every_face_owns_texels_and_none_are_shared(method):
    verts, faces = sphere(3)   # 1280 faces
    size = 512
    (vmap, uv_faces, uv), kind = atlas.unwrap(verts, faces, size, method)
    assert kind == method
    assert uv.min() >= 0 and uv.max() <= 1
    # the atlas faces are the mesh faces, in order
    assert np.array_equal(vmap[uv_faces], faces)
    ids, _ = raster.texel_hits(uv_faces, uv, size)
    owned = np.bincount(ids[ids >= 0], minlength=len(faces))
    assert (owned > 0).mean() > 0.98          # (almost) every face gets texels
    # ray casting picks one triangle per texel; overlapping charts would steal
    # texels, so each face's texel count must match its uv area
    tri = uv[uv_faces] * size
    area = 0.5 * np.abs(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))
    assert owned.sum() == pytest.approx(area.sum(), rel=0.05)


def test_grid_atlas_refuses_a_texture_too_small_for_the_faces():
    with pytest.raises(ValueError):
        atlas.grid_atlas(np.zeros((100000, 3), np.int64), 256)


@pytest.mark.parametrize("n_faces", [1280, 1281])
def test_grid_texels_from_the_layout_are_the_ray_cast_ones(n_faces):
    faces = np.arange(3 * n_faces).reshape(-1, 3)
    _, uv_faces, uv = atlas.grid_atlas(faces, 512)
    cast_ids, cast_bary = raster.texel_hits(uv_faces, uv, 512)
    ids, bary = atlas.texels("grid", uv_faces, uv, 512)
    assert (ids == cast_ids).mean() > 0.995   # they differ only on texels exactly on an edge
    agree = (ids >= 0) & (ids == cast_ids)
    assert np.abs(bary[agree] - cast_bary[agree]).max() < 1e-4
    assert set(ids[ids >= 0]) == set(range(n_faces))   # every face, the odd last one too
