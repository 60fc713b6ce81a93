"""Time-based train/eval split with history features.

Protocol: each user's interactions are ordered by timestamp, ties broken by item id, so the split is deterministic.
The latest `holdout_last` of them (a count, or a fraction of the user's interactions) become evaluation examples and
training never sees them; every user keeps at least one training interaction. Every example carries the items the
user interacted with before it, oldest first, as `history`: training examples keep the last `max_history` of them,
evaluation examples keep all of them, because evaluation excludes everything the user has already seen from the
ranking and the model reads only the most recent ones.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from avrec.config import DataConfig

ITEM_FEATURES = ("title", "genres", "text")


@dataclasses.dataclass(frozen=True)
class SplitExamples:
    """Interaction examples, one row per interaction: user_id, item_id, rating, timestamp, history (list of item
    ids), and the target item's features (title, genres as a list, text)."""

    train: pd.DataFrame
    eval: pd.DataFrame


def holdout_count(n_interactions: int, holdout_last: float) -> int:
    """How many of a user's latest interactions go to eval: never all of them."""
    wanted = int(holdout_last) if holdout_last >= 1 else math.ceil(holdout_last * n_interactions)
    return max(0, min(wanted, n_interactions - 1))


def _split_list(joined: str) -> list[str]:
    return joined.split("|") if joined else []


def time_split(interactions: pd.DataFrame, catalog: pd.DataFrame, config: DataConfig) -> SplitExamples:
    ordered = interactions.sort_values(["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)
    users = ordered["user_id"].to_numpy()
    items = ordered["item_id"].to_numpy()
    boundaries = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])

    is_eval = np.zeros(len(ordered), dtype=bool)
    histories: list[list[str]] = [None] * len(ordered)  # type: ignore[list-item]
    for start, end in zip(boundaries[:-1], boundaries[1:]):
        n = end - start
        n_eval = holdout_count(n, config.holdout_last) if n >= config.min_user_interactions else 0
        first_eval = end - n_eval
        is_eval[first_eval:end] = True
        sequence = items[start:end].tolist()
        for position in range(n):
            row = start + position
            keep_from = 0 if row >= first_eval else max(0, position - config.max_history)
            histories[row] = sequence[keep_from:position]

    ordered["history"] = histories
    features = catalog.set_index("item_id")[list(ITEM_FEATURES)]
    examples = ordered.join(features, on="item_id")
    examples["genres"] = examples["genres"].map(_split_list)
    return SplitExamples(train=examples[~is_eval].reset_index(drop=True),
                         eval=examples[is_eval].reset_index(drop=True))
