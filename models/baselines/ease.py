"""EASE (Steck, 2019): a closed-form item-item linear model, B = -P / diag(P) with P = (X^T X + lambda I)^-1 and
a zero diagonal; an example's scores are its history row times B. Its cost is an items x items inverse, so it runs
only on catalogs up to a size (EvalConfig.ease_max_items); lambda is chosen on the validation slice."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
from scipy import linalg

from avrec.models.baselines.batch import EvalBatch

LAMBDAS = (50.0, 200.0, 800.0, 3200.0)


def ease_weights(user_item: sparse.csr_matrix, regularization: float) -> np.ndarray:
    """In place, because the items x items float64 matrix is the baseline's memory (1.15 GB at 12k items): one of
    them at a time, plus the float32 result."""
    gram = (user_item.T @ user_item).astype(np.float64).toarray()
    gram[np.diag_indices_from(gram)] += regularization
    weights = linalg.inv(gram, overwrite_a=True, check_finite=False)
    del gram
    weights /= -np.diag(weights).copy()
    weights[np.diag_indices_from(weights)] = 0.0
    return weights.astype(np.float32)


class Ease:
    name = "ease"

    def __init__(self, user_item: sparse.csr_matrix, regularization: float):
        self.regularization = regularization
        self._weights = ease_weights(user_item, regularization)

    def scores(self, batch: EvalBatch) -> np.ndarray:
        return np.asarray(batch.histories @ self._weights)
