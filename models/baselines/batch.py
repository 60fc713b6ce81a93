"""What every baseline scores: a batch of evaluation examples, each as its history (a binary row over the catalog
and, for the sequential ones, the ordered item positions) and its timestamp."""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sparse


@dataclasses.dataclass(frozen=True)
class EvalBatch:
    histories: sparse.csr_matrix  # [B, N]: 1 where the example's user interacted with the item before
    sequences: list[np.ndarray]  # [B] item positions, oldest first (-1: outside the catalog)
    timestamps: np.ndarray  # [B] Unix seconds

    def __len__(self) -> int:
        return self.histories.shape[0]
