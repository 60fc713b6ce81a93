"""Random: uniformly random scores with a fixed seed; the floor every method must clear."""
from __future__ import annotations

import numpy as np

from avrec.models.baselines.batch import EvalBatch


class RandomScores:
    name = "random"

    def __init__(self, num_items: int, seed: int = 0):
        self._num_items = num_items
        self._random = np.random.default_rng(seed)

    def scores(self, batch: EvalBatch) -> np.ndarray:
        return self._random.random((len(batch), self._num_items), dtype=np.float32)
