"""Non-learned baselines on the same split, scored by the same metric code as the model (metrics.py).

popularity:   items ranked by how many training interactions they have.
itemknn:      item-item cosine similarity over the binary user x item training matrix; an item's score for an
              example is the sum of its similarities to everything in the example's history.
content_only: needs no training: cosine between an item's pretrained text embedding and the mean text embedding of
              the example's history (when content embeddings are given).
random:       uniformly random scores (fixed seed): the floor.
All exclude the user's history from the ranking exactly as the model's evaluation does.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import scipy.sparse as sparse
import tensorflow as tf

from avrec.models.metrics import ranking_metrics, target_ranks

BATCH = 1024


def _positions(ids, index: dict[bytes, int]) -> np.ndarray:
    return np.array([index.get(i, -1) for i in ids], dtype=np.int64)


def _incidence(rows: list[np.ndarray], num_items: int) -> sparse.csr_matrix:
    """Binary matrix with a 1 at (row, item) for every valid item position in that row."""
    lengths = np.array([len(r) for r in rows])
    columns = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    row_ids = np.repeat(np.arange(len(rows)), lengths)
    keep = columns >= 0
    matrix = sparse.csr_matrix((np.ones(keep.sum(), np.float32), (row_ids[keep], columns[keep])),
                               shape=(len(rows), num_items))
    matrix.data[:] = 1.0  # duplicates were summed
    return matrix


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def baseline_ranks(train_users, train_items, eval_items, eval_histories, catalog_ids,
                   item_text: np.ndarray | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Target ranks of every eval example under each baseline. Ids are bytes; histories are lists of ids;
    item_text, when given, holds the catalog's text embeddings in catalog_ids order."""
    index = {item: position for position, item in enumerate(catalog_ids)}
    num_items = len(catalog_ids)
    train_positions = _positions(train_items, index)
    users, user_rows = np.unique(np.asarray(train_users), return_inverse=True)
    user_item = sparse.csr_matrix((np.ones(len(train_positions), np.float32), (user_rows, train_positions)),
                                  shape=(len(users), num_items))
    user_item.data[:] = 1.0
    item_users = np.asarray(user_item.sum(axis=0)).ravel()
    inverse_norm = sparse.diags(np.where(item_users > 0, 1.0 / np.sqrt(np.maximum(item_users, 1)), 0.0))
    popularity = np.bincount(train_positions[train_positions >= 0], minlength=num_items).astype(np.float32)

    targets = _positions(eval_items, index)
    histories = [_positions(h, index) for h in eval_histories]
    text = _unit_rows(item_text.astype(np.float32)) if item_text is not None else None
    random = np.random.default_rng(seed)
    ranks = {name: [] for name in ("popularity", "itemknn", "random", *(["content_only"] if text is not None else []))}
    for start in range(0, len(targets), BATCH):
        batch_histories = histories[start:start + BATCH]
        history_matrix = _incidence(batch_histories, num_items)
        excluded = tf.constant(history_matrix.toarray() > 0)
        batch_targets = tf.constant(targets[start:start + BATCH])
        knn_scores = ((history_matrix @ inverse_norm) @ user_item.T) @ user_item @ inverse_norm
        scores = {"popularity": np.broadcast_to(popularity, excluded.shape),
                  "itemknn": np.asarray(knn_scores.todense() if sparse.issparse(knn_scores) else knn_scores),
                  "random": random.random(excluded.shape, dtype=np.float32)}
        if text is not None:
            profiles = _unit_rows(np.asarray(history_matrix @ text))
            scores["content_only"] = profiles @ text.T
        for name, value in scores.items():
            ranks[name].append(target_ranks(tf.constant(value, tf.float32), batch_targets, excluded).numpy())
    return {name: np.concatenate(parts) for name, parts in ranks.items()}


def baseline_metrics(ranks: dict[str, np.ndarray], cold: np.ndarray) -> dict:
    """Warm examples for the headline baselines; a `cold` section for cold-start examples when there are any."""
    cold = np.asarray(cold, dtype=bool)
    document = {name: ranking_metrics(values[~cold]) for name, values in ranks.items()
                if name in ("popularity", "itemknn")}
    if cold.any():
        document["cold"] = {name: ranking_metrics(values[cold]) for name, values in ranks.items()}
    return document
