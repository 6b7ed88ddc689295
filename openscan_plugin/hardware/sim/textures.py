"""Solid (3-D) procedural textures: colour as a function of surface position.

A solid texture needs no UV unwrap (no seams) and is non-repetitive by construction:
value noise on random lattices at several wavelengths, from centimetres down to the
sub-millimetre scale the photos resolve, so SIFT finds distinct features from every side.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import map_coordinates


def value_noise(points: np.ndarray, wavelength: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field in about [-1, 1] sampled at `points` (N x 3, mm)."""
    lo = points.min(axis=0) - wavelength
    coords = ((points - lo) / wavelength).T           # lattice units
    shape = np.ceil(coords.max(axis=1)).astype(int) + 4
    lattice = rng.standard_normal(shape)
    return map_coordinates(lattice, coords, order=3, mode="nearest") / 0.7


def rich_colours(points: np.ndarray, seed: int, wavelengths=(14.0, 6.0, 2.5, 1.1, 0.55),
                 palette_shift=(0.0, 0.0, 0.0), contrast: float = 2.2) -> np.ndarray:
    """High-contrast multi-scale colour (N x 3, 0..1) for surface points."""
    rng = np.random.default_rng(seed)
    channels = []
    for c in range(3):
        field = np.zeros(len(points))
        for w in wavelengths:
            field += value_noise(points, w, rng) * (w / wavelengths[0]) ** 0.35
        field /= field.std() + 1e-9
        channels.append(0.5 + 0.5 * np.tanh(contrast * field + palette_shift[c]))
    rgb = np.stack(channels, axis=1)
    # a shared luminance pattern keeps strong gradients in grey-scale (SIFT works on grey)
    lum = np.zeros(len(points))
    for w in wavelengths[1:]:
        lum += value_noise(points, w, rng)
    lum = 0.5 + 0.5 * np.tanh(contrast * lum / (lum.std() + 1e-9))
    return np.clip(0.15 + 0.85 * (0.45 * rgb + 0.55 * lum[:, None]), 0.0, 1.0)
