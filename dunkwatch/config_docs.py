"""The configuration as documents: config.toml with every key at its default, and the README's
table. Generated from the sections' own defaults, bounds and descriptions, so none can drift."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from dunkwatch.config import SECTION_TYPES


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, (str, Path)):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def render_toml() -> str:
    """config.toml with every key at its default and its description: the shipped file is this."""
    lines = [
        "# dunkwatch configuration. Every key is listed with its default; delete a line to use the default.",
        "# Paths are relative to this file's folder. A misspelt key is an error: run `dunkwatch check`.",
    ]
    for section, cls in SECTION_TYPES.items():
        lines += ["", f"[{section}]"]
        for f in dataclasses.fields(cls):
            assignment = f"{f.name} = {_toml_value(f.default)}"
            lines.append(f"{assignment:<33} # {f.metadata['doc']}")
    return "\n".join(lines) + "\n"


def render_markdown_table() -> str:
    """The README's configuration table."""
    rows = ["| key | default | bounds | what it does |", "| --- | --- | --- | --- |"]
    for section, cls in SECTION_TYPES.items():
        for f in dataclasses.fields(cls):
            meta = f.metadata
            if meta["choices"]:
                bounds = " / ".join(meta["choices"])
            elif meta["lo"] is not None:
                bounds = f"{meta['lo']:g} – {meta['hi']:g}"
            else:
                bounds = ""
            rows.append(f"| `{section}.{f.name}` | `{_toml_value(f.default)}` | {bounds} | {meta['doc']} |")
    return "\n".join(rows) + "\n"
