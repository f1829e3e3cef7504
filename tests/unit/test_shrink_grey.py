"""shrink_grey, the grey tap's shrink: the same pixels as OpenCV's area resize, whatever the size."""

import cv2
import numpy as np
import pytest

from dunkwatch.imageops import shrink_grey


@pytest.mark.parametrize(
    "height, width, to",
    [
        (1080, 1920, (640, 360)),  # a whole factor of 3: the block sums
        (1920, 1080, (360, 640)),  # portrait
        (1000, 1500, (300, 200)),  # 5
        (2160, 3840, (640, 360)),  # 6, even: OpenCV's own
        (720, 1280, (640, 360)),  # 2: OpenCV's own
        (1080, 1440, (640, 480)),  # not a whole factor
    ],
)
def test_the_same_pixels_as_opencvs_area_resize(height: int, width: int, to: tuple[int, int]) -> None:
    rng = np.random.default_rng(height + width)
    for grey in (rng.integers(0, 256, (height, width), dtype=np.uint8), np.full((height, width), 255, np.uint8)):
        np.testing.assert_array_equal(shrink_grey(grey, to), cv2.resize(grey, to, interpolation=cv2.INTER_AREA))


def test_every_block_sum_rounds_as_opencv_does() -> None:
    """Each of the 2,296 sums a 3 x 3 block of bytes can have, side by side in one row of blocks."""
    sums = np.arange(9 * 255 + 1)
    blocks = np.repeat(sums // 9, 9).reshape(-1, 9)
    blocks[np.arange(9)[None] < (sums % 9)[:, None]] += 1
    grey = blocks.reshape(-1, 3, 3).transpose(1, 0, 2).reshape(3, -1).astype(np.uint8)
    assert grey.shape == (3, 3 * len(sums))
    to = (len(sums), 1)
    shrunk = shrink_grey(grey, to)
    np.testing.assert_array_equal(shrunk, cv2.resize(grey, to, interpolation=cv2.INTER_AREA))
    assert len(np.unique(shrunk)) == 256


def test_a_plane_with_padded_rows() -> None:
    """The decoder's luma plane is a view whose rows are longer than the picture (line padding)."""
    rng = np.random.default_rng(7)
    padded = rng.integers(0, 256, (1080, 1984), dtype=np.uint8)
    grey = padded[:, :1920]
    np.testing.assert_array_equal(
        shrink_grey(grey, (640, 360)), cv2.resize(np.ascontiguousarray(grey), (640, 360), interpolation=cv2.INTER_AREA)
    )


def test_a_factor_too_large_for_sixteen_bit_sums() -> None:
    """17 x 17 bytes can sum past 65,535: OpenCV's own loop then."""
    grey = np.full((17 * 4, 17 * 6), 255, np.uint8)
    np.testing.assert_array_equal(shrink_grey(grey, (6, 4)), np.full((4, 6), 255, np.uint8))
