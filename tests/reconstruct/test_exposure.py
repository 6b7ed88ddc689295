"""Views shot at different exposures or white balance are evened out before blending."""
import numpy as np

from cloud_backend.reconstruct.texture import exposure_gains


def test_gains_undo_each_views_exposure_and_colour_cast():
    rng = np.random.default_rng(0)
    n, keep = 20000, 3
    albedo = rng.uniform(40, 200, (n, 3)).astype(np.float32)
    # view 1 fired a flash, view 2 is dark and blue, view 4 warm: what auto exposure/WB does
    true = np.array([[1, 1, 1], [1.5, 1.5, 1.5], [0.7, 0.8, 0.9], [1, 1, 1], [1.2, 1, 0.8], [1, 1, 1]], np.float32)
    views = np.stack([rng.choice(len(true), keep, replace=False) for _ in range(n)]).astype(np.int32)
    views[:100, 2] = -1                                  # some texels seen by two views only
    colours = albedo[:, None, :] * true[np.maximum(views, 0)]
    weights = np.where(views >= 0, rng.uniform(0.2, 1, (n, keep)), 0).astype(np.float32)
    gains = exposure_gains(colours, weights, views, len(true))
    corrected = gains[:-1] * true                          # each view after correction
    assert np.ptp(corrected, axis=0).max() < 0.01 * corrected.mean()   # all views agree within 1 %
    assert np.allclose(gains[-1], 1.0)                    # empty slots untouched
    before = np.abs(colours[:, 0] - colours[:, 1]).mean()
    fixed = colours * gains[views]
    assert np.abs(fixed[:, 0] - fixed[:, 1]).mean() < 0.1 * before   # seams between views vanish
