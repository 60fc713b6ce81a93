"""Recency-aware popularity: items ranked by their training interactions in the `days` before each example (a
trend, not all-time fame). Counts are kept per day only for the days some example looks back over."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sparse

from avrec.models.baselines.batch import EvalBatch

DAY = 86400


class RecentPopularity:
    name = "recent_popularity"

    def __init__(self, day_counts: sparse.csr_matrix, first_day: int, days: int):
        """day_counts: [day - first_day, item] training interactions (see daily_counts)."""
        self._counts, self._first_day, self._days = day_counts.tocsr(), first_day, days

    def _window(self, day: int) -> np.ndarray:
        start, end = max(day - self._days - self._first_day, 0), max(day - self._first_day, 0)
        rows = self._counts[start:end]
        return np.asarray(rows.sum(axis=0)).ravel()

    def scores(self, batch: EvalBatch) -> np.ndarray:
        days = (np.asarray(batch.timestamps) // DAY).astype(np.int64)
        windows = {day: self._window(int(day)) for day in np.unique(days)}
        return np.stack([windows[day] for day in days]).astype(np.float32)


def daily_counts(timestamps: np.ndarray, items: np.ndarray, num_items: int, first_day: int,
                 num_days: int) -> sparse.csr_matrix:
    """Training interactions per (day since first_day, item), for days in [0, num_days); others are dropped."""
    days = timestamps // DAY - first_day
    keep = (days >= 0) & (days < num_days) & (items >= 0)
    return sparse.csr_matrix((np.ones(int(keep.sum()), np.float32), (days[keep], items[keep])),
                             shape=(num_days, num_items))
