"""Which image pairs to match, chosen by what the photos show, never by file order.

- A coarse view graph (`view_graph`): pairs of photos are scored by the mutual
  nearest-neighbour matches among each photo's largest-scale SIFT features, the
  ones a small copy of the photo would have. It costs a fraction of full matching
  and works for any capture: shuffled, handheld, several rings, gaps. Up to a
  hundred photos every pair is scored; above, only each photo's most similar
  photos by bag of visual words (`retrieval_candidates`), so the cost grows
  linearly with the photos instead of with their square.
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


TRAINING_FEATURES = 32768   # the vocabulary is learnt on a sample: its cost stays flat with more photos


def retrieval_candidates(coarse, k, words=1024, iterations=8, seed=0):
    """Each photo's k most similar photos by their bags of visual words (tf-idf
    weighted, cosine), made symmetric: a list of index arrays.

    The vocabulary is a k-means of the set's own coarse features (a scan's photos
    share one object, so its own words describe it best). Cost: linear in the
    features, plus an (n, n) product of short histograms.
    """
    n = len(coarse)
    features = np.concatenate([c for c in coarse if len(c)] or [np.zeros((0, 128), np.float32)])
    words = min(words, len(features) // 8)
    if words < 2 or n <= k + 1:
        return [np.array([j for j in range(n) if j != i]) for i in range(n)]
    rng = np.random.default_rng(seed)
    sample = features[rng.choice(len(features), min(len(features), TRAINING_FEATURES), replace=False)]
    centroids = sample[:words]
    for _ in range(iterations):   # Lloyd's k-means; empty words keep their old centre
        assigned = _nearest_word(sample, centroids)
        members = csr_matrix((np.ones(len(sample), np.float32), (assigned, np.arange(len(sample)))),
                             shape=(words, len(sample)))
        counts = np.asarray(members.sum(axis=1))
        centroids = np.where(counts > 0, (members @ sample) / np.maximum(counts, 1), centroids)
    bags = np.zeros((n, words), np.float64)
    for i, c in enumerate(coarse):
        if len(c):
            bags[i] = np.bincount(_nearest_word(c, centroids), minlength=words)
    bags *= np.log(n / np.maximum((bags > 0).sum(axis=0), 1))   # idf: words in every photo say nothing
    bags /= np.linalg.norm(bags, axis=1, keepdims=True) + 1e-12
    similarity = bags @ bags.T
    np.fill_diagonal(similarity, -np.inf)
    linked = _as_matrix(np.argsort(-similarity, axis=1)[:, :k], n)
    linked |= linked.T
    return [np.flatnonzero(row) for row in linked]


def retrieved_view_graph(coarse, k, expand=3, progress=lambda f: None):
    """`view_graph` over each photo's k retrieval candidates, then over the candidates of
    its `expand` best-scored partners (query expansion: a neighbour's neighbours are
    likely neighbours; on a 130-photo rig scan this finds all but 0.04 of each photo's 12
    best partners with ~35 pairs scored per photo, where 30 plain candidates miss 0.23)."""
    n = len(coarse)
    candidates = retrieval_candidates(coarse, k)
    scores = view_graph(coarse, candidates=candidates, progress=lambda f: progress(0.5 * f))
    linked = _as_matrix(candidates, n)
    wider = linked.copy()
    for i in range(n):
        for j in np.argsort(-scores[i])[:expand]:
            if scores[i, j] > 0:
                wider[i, candidates[j]] = True
    np.fill_diagonal(wider, False)
    wider |= wider.T
    extra = [np.flatnonzero(row) for row in wider & ~linked]
    return scores + view_graph(coarse, candidates=extra, progress=lambda f: progress(0.5 + 0.5 * f))


def _as_matrix(candidates, n):
    linked = np.zeros((n, n), bool)
    for i, found in enumerate(candidates):
        linked[i, found] = True
    return linked


def _nearest_word(features, centroids):
    # argmin |f - c|^2 = argmax f.c - |c|^2 / 2, in blocks to bound memory
    half = 0.5 * (centroids ** 2).sum(axis=1)
    return np.concatenate([np.argmax(block @ centroids.T - half, axis=1)
                           for block in np.array_split(features, max(1, len(features) // 8192))])


def view_graph(coarse, ratio=0.8, candidates=None, progress=lambda f: None):
    """Symmetric (n, n) int matrix: mutual nearest-neighbour matches passing the
    ratio test between the coarse features of pairs of photos.

    coarse: list of (m_i, 128) unit vectors (`coarse_features`). candidates: for
    each photo the indices of the photos to score it against (symmetric; default
    all). One matrix product per photo against its candidates; memory is
    m x (candidates' m) floats.
    """
    n = len(coarse)
    m = max((len(c) for c in coarse), default=0)
    scores = np.zeros((n, n), np.int32)
    if m < 2:
        return scores
    if candidates is None:
        candidates = [np.arange(n)] * n
    # pad to a common m so the products reshape into (m, n, m) blocks; padded rows never match
    stack = np.zeros((n, m, 128), np.float32)
    valid = np.zeros((n, m), bool)
    for i, c in enumerate(coarse):
        stack[i, :len(c)] = c
        valid[i, :len(c)] = True
    neg = np.where(valid, 0.0, -4.0).astype(np.float32)   # padding loses every max
    rows = np.arange(m)
    for i in range(n):
        js = np.asarray(candidates[i])
        if len(js) == 0:
            continue
        sim = (stack[i] @ stack[js].reshape(-1, 128).T + neg[js].reshape(-1)).reshape(m, len(js), m)
        sim[~valid[i]] = -4.0
        best = sim.argmax(axis=2)                                   # (m, J): i's feature -> j's
        top2 = -np.partition(-sim, 1, axis=2)[:, :, :2]             # best and second best
        back = sim.argmax(axis=0)                                   # (J, m): j's feature -> i's
        mutual = back[np.arange(len(js))[None, :], best] == rows[:, None]
        d1 = np.sqrt(np.maximum(2 - 2 * top2[:, :, 0], 0))
        d2 = np.sqrt(np.maximum(2 - 2 * top2[:, :, 1], 0))
        good = mutual & (d1 < ratio * d2) & valid[i][:, None]
        scores[i, js] = good.sum(axis=0)
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
