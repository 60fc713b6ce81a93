"""Random: uniformly random scores with a fixed seed; the floor every method must clear."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse


class RandomScores:
    name = "random"

    def __init__(self, num_items: int, seed: int = 0):
        self._num_items = num_items
        self._random = np.random.default_rng(seed)

    def scores(self, histories: sparse.csr_matrix) -> np.ndarray:
        return self._random.random((histories.shape[0], self._num_items), dtype=np.float32)
