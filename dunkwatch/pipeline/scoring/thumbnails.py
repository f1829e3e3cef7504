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

    The sums are matrix products with `ref`, channels first, rather than sums over weighted copies
    of `others`: the same least-squares line at a tenth of the time, which is what this costs (the
    motion model calls it for every pair of background candidates).
    """
    # Channels first, so each sum runs along memory (numpy sums a middle axis several times slower).
    x = np.ascontiguousarray((ref - ref.mean(axis=0)).T)  # 3 x P, centred: the fit does not depend on where x starts
    y = np.ascontiguousarray(others.transpose(0, 2, 1))  # n x 3 x P
    n = len(y)
    # First pass, every pixel taking part: x is centred, so its mean is 0 and its weighted sums plain.
    count = np.full((n, 3), float(x.shape[1]), np.float32)
    sums = (np.zeros((n, 3), np.float32), y.sum(axis=2), np.broadcast_to((x * x).sum(axis=1), (n, 3)))
    residual = _residual(y, x, count, *sums, _dot(y, x))
    # Second pass without the outliers (the player).
    w = (residual < 2 * tolerance).astype(np.float32)
    wy = w * y
    count = np.maximum(w.sum(axis=2), 1.0)
    sums = (_dot(w, x), wy.sum(axis=2), _dot(w, x * x))
    residual = _residual(y, x, count, *sums, _dot(wy, x), out=residual)
    return np.maximum(np.maximum(residual[:, 0], residual[:, 1]), residual[:, 2]) > tolerance[None]


def _dot(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum over pixels of a * x, per image and channel: n x 3 x P and 3 x P -> n x 3."""
    return np.matmul(a[:, :, None, :], x[:, :, None])[..., 0, 0]


def _residual(
    y: np.ndarray,
    x: np.ndarray,
    count: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    sxx: np.ndarray,
    sxy: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """|y - ym - slope * (x - xm)| per image, channel and pixel, for the least-squares line through
    the (weighted) sums, its slope kept within 0.5..2; written into `out` when given."""
    xm, ym = sx / count, sy / count
    var = np.maximum(sxx - count * xm * xm, 1e-6)
    slope = np.clip((sxy - count * xm * ym) / var, 0.5, 2.0)
    out = np.subtract(y, (ym - slope * xm)[:, :, None], out=out)
    out -= slope[:, :, None] * x[None]
    return np.abs(out, out=out)


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
