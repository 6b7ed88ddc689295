"""model.stl's solid (printable.py) against the true mesh of the rendered object."""
import numpy as np
import pytest
import trimesh

from cloud_backend.reconstruct import printable, synthetic


@pytest.fixture(scope="module")
def true_mesh():
    verts, faces = synthetic.object_mesh(subdivisions=4)
    return trimesh.Trimesh(verts, faces)


def _open_surface(mesh):
    """The surface as scans leave it: open where it stood (below 3 mm) and with a 6 mm hole."""
    centre = mesh.triangles_center
    hole = (np.abs(centre[:, 1]) < 3) & (centre[:, 0] > 0) & (np.abs(centre[:, 2] - 40) < 3)
    return mesh.faces[(centre[:, 2] > 3) & ~hole]


@pytest.mark.parametrize("voxels", [128, 256])
def test_an_open_surface_becomes_one_closed_solid_of_the_right_size(true_mesh, voxels):
    verts, faces, info = printable.solidify(true_mesh.vertices, _open_surface(true_mesh), voxels,
                                            base_z=-0.5, max_faces=60_000)
    solid = trimesh.Trimesh(verts, faces)
    assert solid.is_watertight and solid.is_winding_consistent and solid.volume > 0
    assert info["watertight"] and info["shells"] == 1 and len(faces) <= 60_000
    assert len(solid.split(only_watertight=False)) == 1
    assert np.abs(solid.extents / true_mesh.extents - 1).max() < 0.01
    assert abs(solid.volume / true_mesh.volume - 1) < 0.03
    assert solid.bounds[0, 2] == pytest.approx(0.0, abs=1.0)    # flat on the plane it stood on
    bottom = solid.vertices[:, 2] < solid.bounds[0, 2] + 0.2 * info["voxel_size"]
    assert np.ptp(solid.vertices[bottom, 0]) > 0.3 * true_mesh.extents[0]   # a base, not a point


def test_debris_is_dropped_and_the_normals_face_outwards(true_mesh):
    speck = trimesh.creation.icosphere(2, 3.0)
    speck.apply_translation([70, 0, 20])
    both = trimesh.util.concatenate([true_mesh, speck])
    verts, faces, info = printable.solidify(both.vertices, both.faces, 128)
    solid = trimesh.Trimesh(verts, faces)
    assert info["shells"] == 1 and solid.bounds[1, 0] < true_mesh.bounds[1, 0] + 1.0
    outward = (solid.face_normals * (solid.triangles_center - solid.center_mass)).sum(1) > 0
    assert outward.mean() > 0.95


def test_a_scene_is_written_as_it_is_and_measured(true_mesh):
    verts, faces, info = printable.as_is(true_mesh.vertices, _open_surface(true_mesh))
    assert len(faces) == len(_open_surface(true_mesh)) and info["watertight"] is False and info["volume"] is None
    verts, faces, info = printable.as_is(true_mesh.vertices, true_mesh.faces)
    assert info["watertight"] is True and info["volume"] == pytest.approx(true_mesh.volume)


def test_specks_split_off_by_decimation_do_not_cost_the_face_budget():
    body = trimesh.creation.icosphere(6, 30.0)   # 82k faces
    speck = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]],
                            [[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])   # 4 faces, as decimation leaves them
    speck.apply_translation([0, 0, 45])
    smaller = printable._decimate(trimesh.util.concatenate([body, speck]), 20_000)
    assert smaller is not None and len(smaller.faces) <= 20_000
    assert smaller.is_watertight and len(smaller.split(only_watertight=False)) == 1
    assert smaller.volume == pytest.approx(body.volume, rel=0.01)


def test_a_part_pinched_off_by_decimation_refuses_it():
    body = trimesh.creation.icosphere(6, 30.0)
    part = trimesh.creation.icosphere(3, 5.0)   # 1,280 faces: a part of the object, not a speck
    part.apply_translation([0, 0, 40])
    assert printable._decimate(trimesh.util.concatenate([body, part]), 20_000) is None
