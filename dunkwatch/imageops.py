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


def model_input(image: np.ndarray, size: int) -> np.ndarray:
    """The square uint8 frame the classifier sees; training and scoring both use this one resize."""
    if image.shape[0] == image.shape[1] == size:
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
