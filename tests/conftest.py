"""Shared fixtures. `import avrec` first: it switches TensorFlow to Keras 2 before anything imports TensorFlow."""
from __future__ import annotations

from pathlib import Path

import avrec  # noqa: F401
import pytest

from avrec.config import DataConfig, EncoderConfig, ModelConfig, RunConfig, TuneConfig
from tests.support.movielens import write_movielens_slice


@pytest.fixture(scope="session")
def encoders() -> EncoderConfig:
    """The local encoder conversions, built (atomically, only when missing or stale) if setup did not."""
    from avrec.models.encoders.convert.build import ensure_built

    ensure_built(log=lambda _: None)
    return EncoderConfig().resolved()


@pytest.fixture(scope="session")
def movielens_slice(tmp_path_factory, encoders) -> Path:
    return write_movielens_slice(tmp_path_factory.mktemp("slice"))


@pytest.fixture(scope="session")
def slice_run(movielens_slice, tmp_path_factory):
    """One whole pipeline run on the slice, with cold-start evaluation, the Tuner (two short trials) and behaviour
    pretraining, shared by the end-to-end tests."""
    from avrec.pipeline.job import execute

    config = RunConfig(output_dir=str(tmp_path_factory.mktemp("run")),
                       data=DataConfig(source=str(movielens_slice), cold_item_fraction=0.1),
                       model=ModelConfig(epochs=3, pretrain_epochs=1), tune=TuneConfig(trials=2, epochs=1))
    document = execute(config)
    return config, document
