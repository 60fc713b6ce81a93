"""Training interactions and histories as sparse user x item matrices over catalog positions."""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sparse


def positions(ids, index: dict[bytes, int]) -> np.ndarray:
    """Catalog position of each id, -1 for an id outside the catalog."""
    return np.array([index.get(i, -1) for i in ids], dtype=np.int64)


def incidence(rows: list[np.ndarray], num_items: int) -> sparse.csr_matrix:
    """Binary matrix with a 1 at (row, item) for every valid item position in that row (repeats count once)."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    columns = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    row_ids = np.repeat(np.arange(len(rows)), lengths)
    keep = columns >= 0
    matrix = sparse.csr_matrix((np.ones(keep.sum(), np.float32), (row_ids[keep], columns[keep])),
                               shape=(len(rows), num_items))
    matrix.data[:] = 1.0
    return matrix


@dataclasses.dataclass(frozen=True)
class TrainingInteractions:
    """The training split: one (user row, item position) per interaction, over a catalog of num_items."""

    user_rows: np.ndarray
    item_positions: np.ndarray
    num_items: int

    @classmethod
    def from_ids(cls, users, items, catalog_index: dict[bytes, int]) -> "TrainingInteractions":
        _, user_rows = np.unique(np.asarray(users), return_inverse=True)
        return cls(user_rows.astype(np.int64), positions(items, catalog_index), len(catalog_index))

    def item_counts(self) -> np.ndarray:
        known = self.item_positions[self.item_positions >= 0]
        return np.bincount(known, minlength=self.num_items).astype(np.float32)

    def user_item(self) -> sparse.csr_matrix:
        """Binary users x items matrix of who interacted with what."""
        keep = self.item_positions >= 0
        matrix = sparse.csr_matrix((np.ones(keep.sum(), np.float32),
                                    (self.user_rows[keep], self.item_positions[keep])),
                                   shape=(int(self.user_rows.max(initial=-1)) + 1, self.num_items))
        matrix.data[:] = 1.0
        return matrix
