"""Item-kNN: item-item cosine similarity over the binary user x item training matrix; an item's score for an
example is the sum of its similarities to everything in the example's history."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from avrec.models.baselines.batch import EvalBatch
from avrec.models.baselines.interactions import TrainingInteractions


class ItemKnn:
    name = "itemknn"

    def __init__(self, train: TrainingInteractions):
        self._user_item = train.user_item()
        item_users = np.asarray(self._user_item.sum(axis=0)).ravel()
        self._inverse_norm = sparse.diags(np.where(item_users > 0, 1.0 / np.sqrt(np.maximum(item_users, 1)), 0.0))

    def scores(self, batch: EvalBatch) -> np.ndarray:
        # (H D^-1/2 UI^T) UI D^-1/2: the similarities are never materialised as an items x items matrix. The batch x
        # users middle factor is dense in practice (popular items reach most users), so it is made dense before the
        # second product: a sparse x sparse product with a dense result is several times slower.
        per_user = np.asarray(((batch.histories @ self._inverse_norm) @ self._user_item.T).todense())
        return np.asarray(self._inverse_norm @ (self._user_item.T @ per_user.T)).T
