"""Small image helpers shared by the decoder and the scorers."""

from __future__ import annotations

import cv2
import numpy as np


def shrink_to_side(image: np.ndarray, side: int | None) -> np.ndarray:
    """Scale down (never up) so the longer side is `side` pixels; area averaging keeps it clean."""
    if not side:
        return image
    h, w = image.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


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
