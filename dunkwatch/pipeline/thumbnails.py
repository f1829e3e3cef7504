"""Thumbnails that candidate frames are compared by: small, blurred, in log units, and a tone
curve fitted between two of them, so an exposure change is not a difference. Pure numpy."""

from __future__ import annotations

import math

import numpy as np

from dunkwatch.imageops import shrink_to_side

THUMB_SIDE = 48  # background clustering compares thumbnails: cheap, and blurred free of noise
THUMB_CHANGE = 0.15  # relative brightness change that counts a thumbnail pixel as different


def share_changed(ref: np.ndarray, others: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Share of pixels of each of `others` (n x P x 3 log values) unlike `ref` (P x 3), a pixel
    being unlike when it is off by more than its `tolerance` (P, log units)."""
    return changed(ref, others, tolerance).mean(axis=1)


def changed(ref: np.ndarray, others: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """Which pixels of each of `others` are unlike `ref` (n x P bool); see share_changed.

    Phones re-expose and re-balance colour when a dark player walks in, which shifts brightness
    non-linearly (a white wall clips, the floor brightens): fit, per pair and channel, a line
    log(other) = a + b * log(ref), once on all pixels and again without the outliers (the
    player), and count only what the fitted tone curve cannot explain.
    """
    x = ref[None]  # 1 x P x 3
    limit = tolerance[None, :, None]
    keep = np.ones(others.shape, dtype=bool)
    for _ in range(2):
        w = keep.astype(np.float32)
        count = np.maximum(w.sum(axis=1, keepdims=True), 1.0)
        xm = (w * x).sum(axis=1, keepdims=True) / count
        ym = (w * others).sum(axis=1, keepdims=True) / count
        dx = x - xm
        var = np.maximum((w * dx * dx).sum(axis=1, keepdims=True), 1e-6)
        slope = np.clip((w * dx * (others - ym)).sum(axis=1, keepdims=True) / var, 0.5, 2.0)
        residual = np.abs(others - ym - slope * dx)
        keep = residual < 2 * limit
    return residual.max(axis=2) > tolerance[None]


def thumb_logs(image: np.ndarray) -> np.ndarray:
    """What candidates are compared by: a small, blurred thumbnail in log units (P x 3)."""
    thumb = shrink_to_side(image, THUMB_SIDE)
    return np.log(thumb.astype(np.float32) + 16.0).reshape(-1, 3)


def alike_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of thumbnail pixels of image b that image a's tone curve cannot explain."""
    ta, tb = thumb_logs(a), thumb_logs(b)
    if ta.shape != tb.shape:
        return 1.0
    return float(share_changed(ta, tb[None], np.full(len(ta), math.log1p(THUMB_CHANGE), np.float32))[0])


