"""Popularity: items ranked by how many training interactions they have."""
from __future__ import annotations

import numpy as np

from avrec.models.baselines.batch import EvalBatch


class Popularity:
    name = "popularity"

    def __init__(self, item_counts: np.ndarray):
        """item_counts: training interactions per catalog item (all of them: a vector the catalog's size)."""
        self._counts = np.asarray(item_counts, np.float32)

    def scores(self, batch: EvalBatch) -> np.ndarray:
        return np.broadcast_to(self._counts, (len(batch), len(self._counts)))
