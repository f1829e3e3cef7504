"""The tone-curve comparison of thumbnails (thumbnails.changed) against its plain formulation:
weighted least squares written out with weighted copies, as it was before it was made faster."""

import numpy as np

from dunkwatch.pipeline.scoring.thumbnails import changed


def plain_changed(ref, others, tolerance):
    x = ref[None]
    limit = tolerance[None, :, None]
    keep = np.ones(others.shape, dtype=bool)
    for _ in range(2):
        w = keep.astype(np.float64)
        count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)
        xm = (w * x).sum(axis=1, keepdims=True) / count
        ym = (w * others).sum(axis=1, keepdims=True) / count
        dx = x - xm
        var = np.maximum((w * dx * dx).sum(axis=1, keepdims=True), 1e-6)
        slope = np.clip((w * dx * (others - ym)).sum(axis=1, keepdims=True) / var, 0.5, 2.0)
        residual = np.abs(others - ym - slope * dx)
        keep = residual < 2 * limit
    return residual.max(axis=2) > tolerance[None], residual.max(axis=2)


def test_the_fast_tone_fit_marks_the_same_pixels_as_the_plain_one():
    rng = np.random.default_rng(7)
    pixels = 48 * 27
    scene = np.log(rng.uniform(20, 235, (pixels, 3)) + 16.0).astype(np.float32)
    copies = []
    for k in range(12):  # re-exposed copies of the scene, each with noise and a player of its own
        other = 0.1 * (k % 4) + (1.0 + 0.05 * (k % 3)) * scene + rng.normal(0, 0.02, scene.shape)
        player = rng.choice(pixels, size=40 + 20 * k, replace=False)
        other[player] += rng.uniform(0.3, 0.8, (len(player), 3))
        copies.append(other)
    others = np.stack(copies).astype(np.float32)
    tolerance = np.full(pixels, np.log1p(0.15), np.float32)
    fast = changed(scene, others, tolerance)
    plain, residual = plain_changed(scene.astype(np.float64), others.astype(np.float64), tolerance)
    near = np.abs(residual - tolerance[None]) < 1e-4  # rounding may tip a pixel exactly at the limit
    assert fast.shape == plain.shape
    assert np.array_equal(fast[~near], plain[~near])
    assert 0.02 < plain.mean() < 0.5  # the players are found, and not everything is
