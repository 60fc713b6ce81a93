"""Fusion that never hurts, end to end: the slice with a cover of pure noise per item (random pixels through the real
vision encoder). The served model either switched the covers off on its validation slice, or reading them costs
nothing within noise: its warm and cold Recall@10 and NDCG@10 are no lower than with the covers toggled off.
scripts/bench_noise_modality.py runs the same comparison on the full data against a run without covers."""
import json

import pytest

from avrec.config import DataConfig, EvalConfig, ModelConfig, RunConfig
from avrec.pipeline.job import execute
from bench_noise_modality import generic_copy

pytestmark = pytest.mark.slow
# One standard deviation of Recall@10 on the slice's few hundred evaluation examples is about 0.01.
NOISE = 0.02


def test_a_cover_of_pure_noise_is_switched_off_or_costs_nothing(movielens_slice, tmp_path):
    data = generic_copy(movielens_slice, tmp_path / "covers", covers=True)
    config = RunConfig(output_dir=str(tmp_path / "run"), data=DataConfig(source=str(data), cold_item_fraction=0.1),
                       model=ModelConfig(epochs=3), eval=EvalConfig(baselines=("popularity",)))
    execute(config)
    document = json.loads((config.output_path / "metrics.json").read_text())
    ablation = document["ablation"]
    off = "image" not in ablation["model"]["modalities"]
    assert ("with_image" if off else "without_image") in ablation
    if off:  # what the noise would have given is reported; the served model does not read it
        return
    for part in ("warm", "cold"):
        for metric in ("recall@10", "ndcg@10"):
            assert ablation["model"][part][metric] >= ablation["without_image"][part][metric] - NOISE, (part, metric)
