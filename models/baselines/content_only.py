"""Content-only: needs no training; cosine between an item's pretrained text embedding and the mean text embedding
of the example's history."""
from __future__ import annotations

import numpy as np

from avrec.models.baselines.batch import EvalBatch


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


class ContentOnly:
    name = "content_only"

    def __init__(self, item_text: np.ndarray):
        """item_text: the catalog's text embeddings, in catalog order."""
        self._text = unit_rows(item_text.astype(np.float32))

    def scores(self, batch: EvalBatch) -> np.ndarray:
        return unit_rows(np.asarray(batch.histories @ self._text)) @ self._text.T
