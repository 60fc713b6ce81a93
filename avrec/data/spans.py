"""Data that arrives over time as span folders: `span-1/`, `span-2/`, ... under one directory, each a dataset in any
supported layout (TFX ExampleGen's `span-{SPAN}` pattern). A directory without span folders is one dataset."""
from __future__ import annotations

import re
from pathlib import Path

_SPAN = re.compile(r"span-([0-9]{1,18})")


def span_numbers(path: str | Path) -> list[int]:
    """The span numbers of the span folders under `path`, ascending (empty: not a spans directory)."""
    root = Path(path)
    if not root.is_dir():
        return []
    return sorted(int(match.group(1)) for match in (_SPAN.fullmatch(child.name) for child in root.iterdir()
                                                    if child.is_dir()) if match)


def span_dir(path: str | Path, span: int) -> Path:
    return Path(path) / f"span-{span}"
