"""Pair selection decides what gets matched: the right neighbours, not everything."""
import numpy as np

from cloud_backend.reconstruct import pairs
from cloud_backend.reconstruct.manifest import Manifest


def test_sequential_pairs_wrap_around_the_ring():
    names = [f"{i:02d}" for i in range(10)]
    result = pairs.sequential_pairs(names, 2)
    assert ("00", "09") in result and ("00", "08") in result   # the ring closes
    assert ("00", "05") not in result
    assert len(result) == 20


def test_angle_pairs_link_nearest_views_not_opposite_sides():
    names = [f"v{i}" for i in range(24)]
    manifest = Manifest(angles={n: (20.0, 15.0 * i) for i, n in enumerate(names)})
    result = set(pairs.angle_pairs(names, manifest, 4))
    assert ("v0", "v1") in result and ("v0", "v23") in result
    assert ("v0", "v12") not in result                # 180 degrees apart
    assert len(result) < len(pairs.exhaustive_pairs(names)) / 4


def test_retrieval_pairs_find_images_sharing_visual_words():
    rng = np.random.default_rng(0)
    scenes = [rng.integers(0, 255, (300, 128)).astype(np.uint8) for _ in range(3)]
    descriptors, names = [], []
    for s, scene in enumerate(scenes):            # 4 photos of each of 3 different scenes
        for k in range(4):
            noisy = np.clip(scene[rng.permutation(300)[:200]] + rng.integers(-3, 4, (200, 128)), 0, 255)
            descriptors.append(noisy.astype(np.uint8))
            names.append(f"s{s}_{k}")
    result = pairs.retrieval_pairs(names, descriptors, 3, vocabulary_size=32)
    same_scene = [a[:2] == b[:2] for a, b in result]
    assert np.mean(same_scene) > 0.9
