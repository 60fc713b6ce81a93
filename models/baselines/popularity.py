"""Popularity: items ranked by how many training interactions they have."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from avrec.models.baselines.interactions import TrainingInteractions


class Popularity:
    name = "popularity"

    def __init__(self, train: TrainingInteractions):
        known = train.item_positions[train.item_positions >= 0]
        self._counts = np.bincount(known, minlength=train.num_items).astype(np.float32)

    def scores(self, histories: sparse.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self._counts, (histories.shape[0], len(self._counts)))
