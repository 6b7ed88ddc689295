"""UV atlases must map every face to its own, non-overlapping texture area."""
import cv2
import numpy as np
import pytest

from cloud_backend.reconstruct import atlas, evaluate, raster, texture


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
    verts, faces = sphere(5)   # 20480 faces
    with pytest.raises(ValueError):
        atlas.grid_atlas(verts, faces, 256)


def loose_faces(n):
    """n triangles that share no edge: every one has a cell alone."""
    rng = np.random.default_rng(1)
    return rng.random((3 * n, 3)), np.arange(3 * n).reshape(-1, 3)


@pytest.mark.parametrize("mesh", ["sphere", "loose"])
def test_grid_texels_from_the_layout_are_the_ray_cast_ones(mesh):
    verts, faces = sphere(3) if mesh == "sphere" else loose_faces(1281)
    _, uv_faces, uv = atlas.grid_atlas(verts, faces, 512)
    cast_ids, cast_bary = raster.texel_hits(uv_faces, uv, 512)
    ids, bary = atlas.texels("grid", uv_faces, uv, 512)
    assert (ids == cast_ids).mean() > 0.995   # they differ only on texels exactly on an edge
    agree = (ids >= 0) & (ids == cast_ids)
    assert np.abs(bary[agree] - cast_bary[agree]).max() < 1e-4
    assert set(ids[ids >= 0]) == set(range(len(faces)))   # every face, the ones alone too


def colour_field(points):
    """A smooth colour over the sphere, 0-255."""
    return 127.5 + 120 * np.sin(3 * points + np.array([0.0, 1.0, 2.0]))


def test_the_grid_texture_runs_on_across_edges_and_its_mipmaps_stay_on_the_surface():
    """A smooth colour field textured through the grid atlas, as the texture stage fills it:
    the same surface point read through either face of an edge gets the same colour (the
    old layout, two faces apart in a cell and gutters blurred from both, jumped 3.3 grey
    levels on average), and a viewer's mipmap at a quarter size still reads the field (the
    old layout, cells in face order, was off by 12.5)."""
    verts, faces = sphere(4)   # 5120 faces, ~8 texels each
    size = 384
    (vmap, uv_faces, uv), kind = atlas.unwrap(verts, faces, size, "grid")
    ids, bary = atlas.texels(kind, uv_faces, uv, size)
    covered = ids >= 0
    image = np.zeros((size * size, 3), np.float32)
    image[covered] = colour_field(raster.interpolate(verts[vmap], uv_faces, ids[covered], bary[covered]))
    image = texture.fill_gutters(image.reshape(size, size, 3), covered.reshape(size, size))

    def read(img, corners_uv):   # bilinear, as a viewer samples
        return texture.sample(img, corners_uv * img.shape[0])

    assert evaluate.seam_jump(vmap, uv_faces, uv, image) < 2.0
    # the field at random points of every face, from the texture shrunk 4x (mipmap level 2)
    mip = cv2.resize(image, (size // 4, size // 4), interpolation=cv2.INTER_AREA)
    weights = np.random.default_rng(0).dirichlet([1, 1, 1], len(faces))[:, 1:].astype(np.float32)
    every = np.arange(len(faces))
    points = raster.interpolate(verts[vmap], uv_faces, every, weights)
    assert np.abs(read(mip, raster.interpolate(uv, uv_faces, every, weights)) - colour_field(points)).mean() < 10.5
