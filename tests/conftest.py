"""Shared fixtures. `import avrec` first: it switches TensorFlow to Keras 2 before anything imports TensorFlow."""
from __future__ import annotations

from pathlib import Path

import avrec  # noqa: F401
import pandas as pd
import pytest

from avrec.config import EMBEDDED_DATASETS, DataConfig, ModelConfig, RunConfig

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


@pytest.fixture(scope="session")
def handles():
    """The local encoder conversions, built (atomically, only when missing or stale) if setup did not."""
    from avrec.models.encoders import DEFAULT_BUILD_DIR, EncoderHandles
    from avrec.models.encoders.build import ensure_built

    ensure_built(DEFAULT_BUILD_DIR, log=lambda _: None)
    return EncoderHandles.local()


@pytest.fixture(scope="session")
def movielens_slice(tmp_path_factory, handles) -> Path:
    return write_movielens_slice(tmp_path_factory.mktemp("slice"))


@pytest.fixture(scope="session")
def slice_run(movielens_slice, tmp_path_factory):
    """One whole pipeline run on the slice, with cold-start evaluation, shared by the end-to-end tests."""
    from avrec.pipeline.run import execute

    config = RunConfig(output_dir=str(tmp_path_factory.mktemp("run")),
                       data=DataConfig(source=str(movielens_slice), cold_item_fraction=0.1),
                       model=ModelConfig(epochs=3))
    document = execute(config)
    return config, document
