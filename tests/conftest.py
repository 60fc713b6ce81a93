"""Shared fixtures. `import avrec` first: it switches TensorFlow to Keras 2 before anything imports TensorFlow."""
from __future__ import annotations

import shutil
from pathlib import Path

import avrec  # noqa: F401
import pandas as pd
import pytest

from avrec.config import EMBEDDED_DATASETS, DataConfig, ModelConfig, RunConfig

SLICE_USERS = 60


def write_movielens_slice(directory: Path, n_users: int = SLICE_USERS) -> Path:
    """The first n users of the embedded ml-latest-small, in its own layout, with the full catalog and tags."""
    source = EMBEDDED_DATASETS["ml-latest-small"]
    directory.mkdir(parents=True, exist_ok=True)
    ratings = pd.read_csv(source / "ratings.csv")
    ratings[ratings["userId"].isin(sorted(ratings["userId"].unique())[:n_users])].to_csv(
        directory / "ratings.csv", index=False)
    for name in ("movies.csv", "tags.csv"):
        shutil.copy(source / name, directory / name)
    return directory


@pytest.fixture(scope="session")
def movielens_slice(tmp_path_factory) -> Path:
    return write_movielens_slice(tmp_path_factory.mktemp("slice"))


@pytest.fixture(scope="session")
def slice_run(movielens_slice, tmp_path_factory):
    """One whole pipeline run on the slice, shared by the end-to-end tests."""
    from avrec.pipeline.run import execute

    config = RunConfig(output_dir=str(tmp_path_factory.mktemp("run")),
                       data=DataConfig(source=str(movielens_slice)), model=ModelConfig(epochs=3))
    document = execute(config)
    return config, document
