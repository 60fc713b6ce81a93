"""TF Serving's version-directory rule, in one place: under a model base path, each version of a model is a
directory named by its version number, and the largest number is the newest.

TF Serving parses names as int64 and ignores anything else. So does this: a name must be ASCII digits that fit an
int64 (not '²', not a 20-digit number); everything else under the base path is reported as ignored, never an error.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

_VERSION = re.compile(r"[0-9]+")
_INT64_MAX = 2 ** 63 - 1
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def version_number(name: str) -> int | None:
    """The version a directory name stands for, or None when TF Serving would not read it as one."""
    if not _VERSION.fullmatch(name):
        return None
    number = int(name)
    return number if number <= _INT64_MAX else None


@dataclasses.dataclass(frozen=True)
class VersionScan:
    versions: list[tuple[int, Path]]  # newest first
    ignored: list[str]  # entries under the base path that are not version directories


def scan(base_path: str | Path) -> VersionScan:
    """The version directories under `base_path`, newest first (none when it does not exist)."""
    base = Path(base_path)
    versions, ignored = [], []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return VersionScan([], [])
    for entry in entries:
        number = version_number(entry.name)
        if number is not None and entry.is_dir():
            versions.append((number, base / entry.name))
        elif not entry.name.startswith("."):  # staging folders of an atomic push are private
            ignored.append(entry.name)
    return VersionScan(sorted(versions, key=lambda pair: pair[0], reverse=True), sorted(ignored))


def is_saved_model(path: str | Path) -> bool:
    return any((Path(path) / name).is_file() for name in SAVED_MODEL_FILES)


def saved_model_versions(base_path: str | Path) -> list[tuple[int, Path]]:
    """Version directories holding a SavedModel, newest first."""
    return [(number, path) for number, path in scan(base_path).versions if is_saved_model(path)]


def next_version(base_path: str | Path, at_least: int = 1) -> int:
    """A version number newer than every version under `base_path`, and at least `at_least`."""
    versions = scan(base_path).versions
    return max(at_least, versions[0][0] + 1 if versions else 1)
