"""PURE: ignore zones, parsed and applied."""

from __future__ import annotations

import numpy as np
import pytest

from dunkwatch.zones import GREY, ZoneError, ZoneFilter, as_zones, format_zone, parse_zone


def test_a_zone_is_three_or_more_relative_points_and_round_trips():
    zone = parse_zone("0,0 0.5,0 0.5,1 0,1")
    assert zone == ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    assert parse_zone(format_zone(zone)) == zone
    assert as_zones([[[0, 0], [0.5, 0], [0.5, 1]]]) == (((0.0, 0.0), (0.5, 0.0), (0.5, 1.0)),)
    for bad in ("0,0 1,1", "0,0 1,1 2,0", "0,0 1;1 0,1", ""):
        with pytest.raises(ZoneError):
            parse_zone(bad)


def test_only_the_zones_pixels_are_greyed_at_any_frame_size():
    zones = (parse_zone("0,0 0.5,0 0.5,1 0,1"),)  # the left half
    for h, w in ((20, 40), (90, 160)):
        frame = np.full((h, w, 3), 7, np.uint8)
        out = ZoneFilter(zones).apply(frame)
        assert (out[:, : w // 2 - 1] == GREY).all() and (out[:, w // 2 + 1 :] == 7).all()
        assert (frame == 7).all()  # the original frame is not touched
    assert ZoneFilter(()).apply(frame) is frame
