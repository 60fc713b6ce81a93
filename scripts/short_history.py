#!/usr/bin/env python
"""A short-history dataset made from a MovieLens CSV directory: each user's time-ordered ratings cut into
consecutive windows of 5 to 10 interactions, each window its own user (a streaming service's many light users).
Windows shorter than 5 at the end of a history are dropped. movies.csv, tags.csv and the licence README are
copied unchanged, so the catalog and its content are the source's.

    python scripts/short_history.py data/ml-latest-small /tmp/ml-short     # then:
    avrec run --data /tmp/ml-short --holdout-last 1
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

SHORTEST, LONGEST = 5, 10
WINDOW_USERS = 1000  # window user id = source user id * WINDOW_USERS + window number


def window_lengths(count: int, rng: np.random.Generator) -> list[int]:
    """Lengths of consecutive windows covering at most `count` interactions, each 5 to 10 long."""
    lengths = []
    while count - sum(lengths) >= SHORTEST:
        lengths.append(int(min(rng.integers(SHORTEST, LONGEST + 1), count - sum(lengths))))
    return lengths


def make(source: Path, destination: Path, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ratings = pd.read_csv(source / "ratings.csv").sort_values(["userId", "timestamp", "movieId"], kind="stable")
    parts = []
    for user, rows in ratings.groupby("userId", sort=True):
        start = 0
        for number, length in enumerate(window_lengths(len(rows), rng)):
            if number >= WINDOW_USERS:
                raise ValueError(f"user {user} has more than {WINDOW_USERS} windows")
            parts.append(rows.iloc[start:start + length].assign(userId=user * WINDOW_USERS + number))
            start += length
    windows = pd.concat(parts, ignore_index=True)
    destination.mkdir(parents=True, exist_ok=True)
    windows.to_csv(destination / "ratings.csv", index=False)
    for name in ("movies.csv", "tags.csv", "README.txt"):
        if (source / name).exists():
            shutil.copy(source / name, destination / name)
    return windows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("destination", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    windows = make(args.source, args.destination, args.seed)
    sizes = windows.groupby("userId").size()
    print(f"{len(windows)} interactions, {len(sizes)} users (median {int(sizes.median())} interactions each), "
          f"{windows['movieId'].nunique()} items -> {args.destination}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
