"""Which image pairs to match, chosen by what the photos show, never by file order.

- A coarse view graph (`view_graph`): every pair of photos is scored by the mutual
  nearest-neighbour matches among each photo's largest-scale SIFT features, the
  ones a small copy of the photo would have. It costs a fraction of full matching
  and works for any capture: shuffled, handheld, several rings, gaps.
- `graph_pairs`: the k best-scored partners of each photo plus a maximum spanning
  tree, so the graph is connected whenever the scores allow it.
- With rig angles in a manifest, the nearest views in angle space are added
  (`angle_pairs`): the rig knows where the camera was, but a photo whose angles
  are off (a slipped turntable) still finds its partners by content.
"""
import itertools

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree


def angle_pairs(names, manifest, k):
    """k nearest views of each image by the angle between viewing directions."""
    dirs = np.array([manifest.view_direction(n) for n in names])
    return _knn_pairs(names, dirs @ dirs.T, k)


def exhaustive_pairs(names):
    return list(itertools.combinations(names, 2))


def coarse_features(keypoints, descriptors, count):
    """The `count` largest-scale features as unit float vectors (what SIFT finds on a
    photo shrunk to a few hundred pixels: the features that repeat across views)."""
    if len(descriptors) == 0:
        return np.zeros((0, 128), np.float32)
    kp = np.asarray(keypoints, np.float64)
    # COLMAP keypoints: x, y, a11, a12, a21, a22 (affine shape); scale = sqrt|det|
    scale = np.sqrt(np.abs(kp[:, 2] * kp[:, 5] - kp[:, 3] * kp[:, 4])) if kp.shape[1] >= 6 else kp[:, 2]
    keep = np.argsort(-scale)[:count]
    d = np.asarray(descriptors, np.float32)[keep]
    return d / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-9)


def view_graph(coarse, ratio=0.8, progress=lambda f: None):
    """Symmetric (n, n) int matrix: mutual nearest-neighbour matches passing the
    ratio test between the coarse features of every pair of photos.

    coarse: list of (m_i, 128) unit vectors (`coarse_features`). One matrix
    product per photo against all others; memory is m x sum(m) floats.
    """
    n = len(coarse)
    m = max((len(c) for c in coarse), default=0)
    scores = np.zeros((n, n), np.int32)
    if m < 2:
        return scores
    # pad to a common m so the products reshape into (m, n, m) blocks; padded rows never match
    stack = np.zeros((n, m, 128), np.float32)
    valid = np.zeros((n, m), bool)
    for i, c in enumerate(coarse):
        stack[i, :len(c)] = c
        valid[i, :len(c)] = True
    flat = stack.reshape(n * m, 128)
    neg = np.where(valid.reshape(-1), 0.0, -4.0).astype(np.float32)   # padding loses every max
    rows = np.arange(m)
    for i in range(n):
        sim = (stack[i] @ flat.T + neg).reshape(m, n, m)
        sim[~valid[i]] = -4.0
        best = sim.argmax(axis=2)                                   # (m, n): i's feature -> j's
        top2 = -np.partition(-sim, 1, axis=2)[:, :, :2]             # best and second best
        back = sim.argmax(axis=0)                                   # (n, m): j's feature -> i's
        mutual = back[np.arange(n)[None, :], best] == rows[:, None]
        d1 = np.sqrt(np.maximum(2 - 2 * top2[:, :, 0], 0))
        d2 = np.sqrt(np.maximum(2 - 2 * top2[:, :, 1], 0))
        good = mutual & (d1 < ratio * d2) & valid[i][:, None]
        scores[i] = good.sum(axis=0)
        progress((i + 1) / n)
    np.fill_diagonal(scores, 0)
    return np.minimum(scores, scores.T)


def graph_pairs(names, scores, k, min_score=1):
    """Each photo's k best-scored partners, plus a maximum spanning tree of the scores
    (so every photo that matches anything is linked to the rest)."""
    pairs = set(_knn_pairs(names, scores.astype(np.float64), k, floor=min_score))
    positive = np.where(scores >= min_score, scores, 0).astype(np.float64)
    np.fill_diagonal(positive, 0.0)
    if positive.any():
        # maximum spanning tree = minimum spanning tree of (top - score) over the existing edges
        top = positive.max() + 1.0
        tree = minimum_spanning_tree(csr_matrix(np.where(positive > 0, top - positive, 0.0))).tocoo()
        pairs |= {tuple(sorted((names[a], names[b]))) for a, b in zip(tree.row, tree.col)}
    return sorted(pairs)


def more_pairs(names, scores, wanted, done, per_image):
    """Up to `per_image` new partners for each name in `wanted`, best scores first,
    skipping the pairs in `done` (the recovery of photos SfM left out)."""
    index = {n: i for i, n in enumerate(names)}
    extra = set()
    for name in wanted:
        i = index[name]
        added = 0
        for j in np.argsort(-scores[i]):
            pair = tuple(sorted((name, names[int(j)])))
            if int(j) == i or scores[i, j] <= 0 or pair in done or pair in extra:
                continue
            extra.add(pair)
            added += 1
            if added >= per_image:
                break
    return sorted(extra)


def _knn_pairs(names, similarity, k, floor=-np.inf):
    sim = similarity.copy()
    np.fill_diagonal(sim, -np.inf)
    pairs = set()
    for i, row in enumerate(sim):
        for j in np.argsort(-row)[: min(k, len(names) - 1)]:
            if row[j] >= floor:
                pairs.add(tuple(sorted((names[i], names[int(j)]))))
    return sorted(pairs)
