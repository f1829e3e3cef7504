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

    The sums are taken as products with `ref` (einsum) rather than over weighted copies of
    `others`: the same least-squares line at a third of the memory traffic, which is what this
    costs (the motion model calls it for every pair of background candidates).
    """
    x = ref - ref.mean(axis=0)  # P x 3, centred: the fit does not depend on where x starts
    y = others
    limit = 2 * tolerance[:, None]  # P x 1
    w = None  # first pass: every pixel takes part
    for _ in range(2):
        if w is None:
            count = np.full((len(y), 3), float(len(x)), np.float32)
            sx = np.zeros((len(y), 3), np.float32)
            sy = y.sum(axis=1)
            sxx = np.broadcast_to((x * x).sum(axis=0), sx.shape)
            sxy = np.einsum("npc,pc->nc", y, x)
        else:
            count = np.maximum(w.sum(axis=1), 1.0)
            sx = np.einsum("npc,pc->nc", w, x)
            sy = (w * y).sum(axis=1)
            sxx = np.einsum("npc,pc->nc", w, x * x)
            sxy = np.einsum("npc,pc->nc", w * y, x)
        xm, ym = sx / count, sy / count
        var = np.maximum(sxx - count * xm * xm, 1e-6)
        slope = np.clip((sxy - count * xm * ym) / var, 0.5, 2.0)
        # residual = |y - ym - slope * (x - xm)|
        residual = np.abs(y - (ym - slope * xm)[:, None, :] - slope[:, None, :] * x[None])
        w = (residual < limit).astype(np.float32)
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
