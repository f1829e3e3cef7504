"""Config values checked: each against its field's type, bounds and choices (`check_value`), and
those that need more: a listen address, a schedule, an Apprise URL. Each raises ConfigError
naming its key."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from dunkwatch.errors import ConfigError


def parse_listen(value: str) -> tuple[str, int]:
    """("127.0.0.1", 8765) from "127.0.0.1:8765"; "[::1]:8765" for IPv6."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"config key review.listen = {value!r}: expected host:port, e.g. 127.0.0.1:8765")
    return host, int(port)


def check_apprise_url(url: str) -> None:
    import apprise  # only when URLs are set: it is not cheap to import

    if not apprise.Apprise().add(url):
        raise ConfigError(
            f"config key notify.urls: {url!r} is not an Apprise URL Apprise can use "
            "(see https://github.com/caronc/apprise/wiki)"
        )


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_EVERY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_schedule(text: str) -> tuple[str, Any]:
    """("interval", seconds) for "every 6h", or ("cron", [5 fields]) for a crontab line; ValueError if neither."""
    text = text.strip()
    if text.lower().startswith("every "):
        amount = text[6:].strip().lower()
        unit = amount[-1:]
        if unit not in _EVERY_UNITS or not amount[:-1].strip().replace(".", "", 1).isdigit():
            raise ValueError('expected "every N" with a unit s, m, h or d, e.g. "every 6h"')
        seconds = float(amount[:-1]) * _EVERY_UNITS[unit]
        if seconds < 1:
            raise ValueError("the interval must be at least 1 s")
        return "interval", seconds
    fields = text.split()
    if len(fields) != 5:
        raise ValueError('expected a crontab line of 5 fields (minute hour day month weekday), e.g. "0 3 * * *"')
    names = ("minute", "hour", "day", "month", "weekday")
    for value, (lo, hi), name in zip(fields, _CRON_RANGES, names):
        for part in value.split(","):
            base, _, step = part.partition("/")
            if step and not step.isdigit():
                raise ValueError(f"{name} field {value!r}: bad step")
            if base == "*":
                continue
            bounds = base.split("-")
            if name == "weekday" and all(b.isalpha() for b in bounds):
                continue  # mon-fri: APScheduler checks the names
            if not all(b.isdigit() for b in bounds) or not all(lo <= int(b) <= hi for b in bounds):
                raise ValueError(f"{name} field {value!r}: expected numbers from {lo} to {hi}")
    return "cron", fields


def check_value(key: str, f: dataclasses.Field, value: Any, base_dir: Path) -> Any:
    meta = f.metadata
    default = f.default
    if isinstance(default, Path):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"config key {key} = {value!r}: expected a path string")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base_dir / p)
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"config key {key} = {value!r}: expected a list of non-empty strings")
        wrong = [v for v in value if meta["choices"] and v not in meta["choices"]]
        if wrong:
            raise ConfigError(f"config key {key}: {wrong[0]!r} is not one of {', '.join(meta['choices'])}")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"config key {key} = {value!r}: expected true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"config key {key} = {value!r}: expected an integer")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key} = {value!r}: expected a number")
        value = float(value)
        if value != value:  # NaN passes every bound check below
            raise ConfigError(f"config key {key} = {value!r}: expected a number")
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"config key {key} = {value!r}: expected a string")
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"config key {key} = {value!r}: must be one of {', '.join(meta['choices'])}")
        return value
    lo, hi = meta["lo"], meta["hi"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"config key {key} = {value!r}: must be between {lo:g} and {hi:g}")
    return value
