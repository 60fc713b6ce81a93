"""Slices of the embedded ml-latest-small, in its own layout, for end-to-end tests."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from avrec.config import EMBEDDED_DATASETS

SLICE_USERS = 60


def write_movielens_slice(directory: Path, n_users: int = SLICE_USERS, extra_items: int = 300) -> Path:
    """The first n users of the embedded ml-latest-small, in its own layout: their ratings, the movies they rated
    plus `extra_items` nobody in the slice rated (catalog items without interactions), and the tags."""
    source = EMBEDDED_DATASETS["ml-latest-small"]
    directory.mkdir(parents=True, exist_ok=True)
    ratings = pd.read_csv(source / "ratings.csv")
    ratings = ratings[ratings["userId"].isin(sorted(ratings["userId"].unique())[:n_users])]
    ratings.to_csv(directory / "ratings.csv", index=False)
    movies = pd.read_csv(source / "movies.csv")
    rated = movies["movieId"].isin(ratings["movieId"])
    catalog = pd.concat([movies[rated], movies[~rated].head(extra_items)])
    catalog.to_csv(directory / "movies.csv", index=False)
    tags = pd.read_csv(source / "tags.csv")
    tags[tags["movieId"].isin(catalog["movieId"])].to_csv(directory / "tags.csv", index=False)
    return directory
