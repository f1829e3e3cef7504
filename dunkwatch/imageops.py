"""Small image helpers shared by the decoder and the scorers."""

from __future__ import annotations

import cv2
import numpy as np


def shrink_to_side(image: np.ndarray, side: int | None) -> np.ndarray:
    """Scale down (never up) so the longer side is `side` pixels; area averaging keeps it clean."""
    h, w = image.shape[:2]
    size = output_size(w, h, side)
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def shrink_grey(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 grey picture shrunk to size (width, height) by area averaging, as cv2.INTER_AREA.

    By an odd whole factor (1080p to 640 px: 3) each pixel is a block's mean, so the blocks are
    summed row by row and column by column and divided once, which costs half of OpenCV's general
    area loop; an odd block's mean is never halfway between two levels, so rounding agrees."""
    h, w = grey.shape
    k = h // size[1]
    if grey.dtype != np.uint8 or k < 3 or k % 2 == 0 or (h, w) != (k * size[1], k * size[0]):
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    rows = grey[0::k].astype(np.uint16)
    for r in range(1, k):
        rows += grey[r::k]
    block = rows[:, 0::k].copy()
    for c in range(1, k):
        block += rows[:, c::k]
    return cv2.convertScaleAbs(block, alpha=1.0 / (k * k))


def output_size(width: int, height: int, side: int | None) -> tuple[int, int]:
    """The size shrink_to_side gives a width x height picture."""
    scale = side / max(width, height) if side else 1.0
    if scale >= 1.0:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def decode_side(model_size: int) -> int:
    """Frames for the classifier are shrunk to this longer side as they are decoded (in the decode
    thread), then to the model's square: two cheap steps instead of one from full resolution."""
    return 2 * model_size


def model_input(image: np.ndarray, size: int) -> np.ndarray:
    """The square uint8 frame the classifier sees. Training and scoring both use this one path
    (shrink to decode_side, then squash to size x size), so their inputs cannot drift apart."""
    image = shrink_to_side(image, decode_side(size))
    if image.shape[0] == image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
