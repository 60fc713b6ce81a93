"""Time-based train/eval split with history features.

Protocol: each user's interactions are ordered by timestamp, ties broken by item id, so the split is deterministic.
The latest `holdout_last` of them (a count, or a fraction of the user's interactions) become evaluation examples and
training never sees them; every user keeps at least one training interaction. In cold-start mode a share of the
items (chosen by a hash of their id, so the choice is stable) is held out of training entirely: every interaction
with them is an evaluation example marked `cold`, and they never appear in a training history either. Every example carries the items the
user interacted with before it, oldest first, as `history`: training examples keep the last `max_history` of them,
evaluation examples keep all of them, because evaluation excludes everything the user has already seen from the
ranking and the model reads only the most recent ones.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pandas as pd

from avrec import features as F
from avrec.config import DataConfig



@dataclasses.dataclass(frozen=True)
class SplitExamples:
    """Interaction examples, one row per interaction: user_id, item_id, rating, timestamp, history (list of item
    ids), cold, and the target item's features (title, genres, text)."""

    train: pd.DataFrame
    eval: pd.DataFrame


def holdout_count(n_interactions: int, holdout_last: float) -> int:
    """How many of a user's latest interactions go to eval: never all of them."""
    wanted = int(holdout_last) if holdout_last >= 1 else math.ceil(holdout_last * n_interactions)
    return max(0, min(wanted, n_interactions - 1))


def cold_items(item_ids, fraction: float) -> set[str]:
    """The `fraction` of the given items whose id hashes lowest: deterministic across runs and machines."""
    unique = sorted(set(item_ids), key=lambda item: hashlib.sha1(item.encode()).hexdigest())
    return set(unique[:round(fraction * len(unique))])


def time_split(interactions: pd.DataFrame, catalog: pd.DataFrame, config: DataConfig) -> SplitExamples:
    ordered = interactions.sort_values(["user_id", "timestamp", "item_id"], kind="mergesort").reset_index(drop=True)
    users = ordered["user_id"].to_numpy()
    items = ordered["item_id"].to_numpy()
    boundaries = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])

    cold = np.isin(items, list(cold_items(items, config.cold_item_fraction))) if config.cold_item_fraction else \
        np.zeros(len(ordered), dtype=bool)
    is_eval = cold.copy()
    histories: list[list[str]] = [None] * len(ordered)  # type: ignore[list-item]
    for start, end in zip(boundaries[:-1], boundaries[1:]):
        warm_rows = start + np.flatnonzero(~cold[start:end])
        n_warm = len(warm_rows)
        n_eval = holdout_count(n_warm, config.holdout_last) if n_warm >= config.min_user_interactions else 0
        is_eval[warm_rows[n_warm - n_eval:]] = True
        sequence = items[start:end].tolist()
        trainable: list[str] = []  # the user's earlier warm items: what a training example may see
        for position in range(end - start):
            row = start + position
            if is_eval[row]:
                histories[row] = sequence[:position]
            else:
                histories[row] = trainable[-config.max_history:]
            if not cold[row]:
                trainable.append(sequence[position])

    ordered["history"] = histories
    ordered["cold"] = cold.astype(np.int64)
    examples = ordered.join(catalog.set_index(F.ITEM_ID)[list(F.ITEM_CONTENT_FEATURES)], on=F.ITEM_ID)
    return SplitExamples(train=examples[~is_eval].reset_index(drop=True),
                         eval=examples[is_eval].reset_index(drop=True))
