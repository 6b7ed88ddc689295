"""Pair selection decides what gets matched: the right neighbours, not everything."""
import numpy as np

from cloud_backend.reconstruct import pairs
from cloud_backend.reconstruct.manifest import RigPrior


def test_angle_pairs_link_nearest_views_not_opposite_sides():
    names = [f"v{i}" for i in range(24)]
    manifest = RigPrior(angles={n: (20.0, 15.0 * i) for i, n in enumerate(names)})
    result = set(pairs.angle_pairs(names, manifest, 4))
    assert ("v0", "v1") in result and ("v0", "v23") in result
    assert ("v0", "v12") not in result                # 180 degrees apart
    assert len(result) < len(pairs.exhaustive_pairs(names)) / 4


def _three_scenes(rng, photos_per_scene=4, features=300, kept=200):
    """Descriptors of 4 photos of each of 3 different scenes (each photo sees 2/3 of its
    scene's features, with noise), in shuffled order."""
    scenes = [rng.integers(0, 255, (features, 128)).astype(np.float64) for _ in range(3)]
    photos = []
    for s, scene in enumerate(scenes):
        for k in range(photos_per_scene):
            noisy = np.clip(scene[rng.permutation(features)[:kept]] + rng.integers(-3, 4, (kept, 128)), 0, 255)
            photos.append((f"s{s}_{k}", noisy))
    order = rng.permutation(len(photos))
    return [photos[i][0] for i in order], [photos[i][1] for i in order]


def test_view_graph_links_photos_of_the_same_scene_whatever_their_order():
    rng = np.random.default_rng(0)
    names, descriptors = _three_scenes(rng)
    # keypoints: x, y, a11, a12, a21, a22 with the scale on the diagonal
    coarse = [pairs.coarse_features(np.column_stack([np.zeros((len(d), 2)), np.ones(len(d)), np.zeros((len(d), 2)),
                                                     np.ones(len(d))]), d, 150) for d in descriptors]
    scores = pairs.view_graph(coarse)
    assert (scores == scores.T).all() and (np.diag(scores) == 0).all()
    same = np.array([[a[:2] == b[:2] for b in names] for a in names])
    np.fill_diagonal(same, False)
    assert scores[same].min() > 10 * max(scores[~same].max(), 1)
    result = pairs.graph_pairs(names, scores, 3)
    assert all(a[:2] == b[:2] for a, b in result)                # no pair across scenes
    assert len(result) == 3 * 6                                  # all pairs within each scene of 4


def test_coarse_features_keep_the_largest_scales():
    kp = np.zeros((4, 6))
    kp[:, 2] = kp[:, 5] = [1.0, 8.0, 2.0, 4.0]
    desc = np.eye(4, 128) * 100
    kept = pairs.coarse_features(kp, desc, 2)
    assert kept.shape == (2, 128)
    assert np.argmax(kept[0]) == 1 and np.argmax(kept[1]) == 3   # scales 8 and 4
    assert np.allclose(np.linalg.norm(kept, axis=1), 1.0)


def test_spanning_tree_connects_weakly_linked_groups_and_recovery_adds_new_partners():
    names = ["a", "b", "c", "d"]
    scores = np.array([[0, 50, 40, 0], [50, 0, 45, 2], [40, 45, 0, 0], [0, 2, 0, 0]])
    result = pairs.graph_pairs(names, scores, 1)
    assert ("b", "d") in result                                  # d's only link survives
    extra = pairs.more_pairs(names, scores, ["c"], set(result), 5)
    assert extra and all("c" in p and p not in result for p in extra)


def test_retrieval_finds_each_photos_scene_and_the_graph_scores_only_those_pairs():
    rng = np.random.default_rng(1)
    names, descriptors = _three_scenes(rng, photos_per_scene=8)
    coarse = [pairs.coarse_features(np.column_stack([np.zeros((len(d), 2)), np.ones(len(d)), np.zeros((len(d), 2)),
                                                     np.ones(len(d))]), d, 150) for d in descriptors]
    candidates = pairs.retrieval_candidates(coarse, 7, words=64)
    scene = [n[:2] for n in names]
    for i, found in enumerate(candidates):                       # the 7 others of its scene, nothing else
        assert sorted(names[j] for j in found) == sorted(n for j, n in enumerate(names) if scene[j] == scene[i] and j != i)
    exact = pairs.view_graph(coarse)
    scored = pairs.view_graph(coarse, candidates=candidates)
    linked = np.zeros_like(exact, bool)
    for i, found in enumerate(candidates):
        linked[i, found] = True
    assert (scored[linked] == exact[linked]).all() and (scored[~linked] == 0).all()
    assert pairs.graph_pairs(names, scored, 3) == pairs.graph_pairs(names, exact, 3)
