"""Which image pairs to match.

- Manifest with angles: nearest views in angle space (the rig knows where the
  camera was, so no time is spent matching photos of opposite sides).
- No manifest, small set: exhaustive.
- No manifest, large set: neighbours in capture order (a scan is a ring, so
  the order wraps around) plus visually similar images by a small
  bag-of-visual-words retrieval over the SIFT descriptors already extracted.
"""
import itertools

import cv2
import numpy as np


def angle_pairs(names, manifest, k):
    """k nearest views of each image by the angle between viewing directions."""
    dirs = np.array([manifest.view_direction(n) for n in names])
    return _knn_pairs(names, dirs @ dirs.T, k)


def exhaustive_pairs(names):
    return list(itertools.combinations(names, 2))


def sequential_pairs(names, overlap):
    """Each image with the next `overlap` ones in capture order, wrapping around."""
    n = len(names)
    pairs = set()
    for i in range(n):
        for step in range(1, min(overlap, n - 1) + 1):
            pairs.add(tuple(sorted((names[i], names[(i + step) % n]))))
    return sorted(pairs)


def retrieval_pairs(names, descriptors, k, vocabulary_size=256, seed=0):
    """k most similar images each, by tf-idf weighted visual-word histograms.

    descriptors: list of (n_i, 128) uint8 SIFT arrays, one per name.
    """
    rng = np.random.default_rng(seed)
    sample = np.concatenate([
        d[rng.choice(len(d), min(len(d), 400), replace=False)] for d in descriptors if len(d)
    ]).astype(np.float32)
    words = min(vocabulary_size, max(2, len(sample) // 20))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(seed)
    _, _, centres = cv2.kmeans(sample, words, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    hist = np.zeros((len(names), words), np.float32)
    for i, d in enumerate(descriptors):
        if len(d):
            assigned = [m.trainIdx for m in matcher.match(d.astype(np.float32), centres)]
            hist[i] = np.bincount(assigned, minlength=words)
    idf = np.log(len(names) / (1.0 + (hist > 0).sum(axis=0)))
    hist = hist * idf
    hist /= np.linalg.norm(hist, axis=1, keepdims=True) + 1e-9
    return _knn_pairs(names, hist @ hist.T, k)


def _knn_pairs(names, similarity, k):
    sim = similarity.copy()
    np.fill_diagonal(sim, -np.inf)
    pairs = set()
    for i, row in enumerate(sim):
        for j in np.argsort(-row)[: min(k, len(names) - 1)]:
            pairs.add(tuple(sorted((names[i], names[int(j)]))))
    return sorted(pairs)
