"""Baselines scored like the model: target ranks per evaluation example, then the reported metrics."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.models.baselines.content_only import ContentOnly
from avrec.models.baselines.interactions import TrainingInteractions, incidence
from avrec.models.baselines.itemknn import ItemKnn
from avrec.models.baselines.popularity import Popularity
from avrec.models.baselines.random_scores import RandomScores
from avrec.models.metrics import ranking_metrics, target_ranks

BATCH = 1024
# Reported for warm examples; every baseline is reported for cold-start examples.
HEADLINE = ("popularity", "itemknn")


def baseline_ranks(item_counts: np.ndarray, knn_train: TrainingInteractions, targets: np.ndarray,
                   histories: list[np.ndarray], item_text: np.ndarray | None = None,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Target ranks of every eval example under each baseline. Items are catalog positions (targets [n],
    histories a list of arrays); popularity counts every training interaction, item-kNN learns from `knn_train`
    (all training users, or a sample); item_text, when given, holds the catalog's text embeddings in catalog order."""
    num_items = len(item_counts)
    baselines = [Popularity(item_counts), ItemKnn(knn_train), RandomScores(num_items, seed),
                 *([ContentOnly(item_text)] if item_text is not None else [])]
    ranks = {baseline.name: [] for baseline in baselines}
    for start in range(0, len(targets), BATCH):
        history_matrix = incidence(histories[start:start + BATCH], num_items)
        excluded = tf.constant(history_matrix.toarray() > 0)
        batch_targets = tf.constant(targets[start:start + BATCH])
        for baseline in baselines:
            scores = tf.constant(baseline.scores(history_matrix), tf.float32)
            ranks[baseline.name].append(target_ranks(scores, batch_targets, excluded).numpy())
    return {name: np.concatenate(parts) if parts else np.zeros(0, np.float32) for name, parts in ranks.items()}


def baseline_metrics(ranks: dict[str, np.ndarray], cold: np.ndarray) -> dict:
    """Warm examples for the headline baselines; a `cold` section for cold-start examples when there are any."""
    cold = np.asarray(cold, dtype=bool)
    document = {name: ranking_metrics(values[~cold]) for name, values in ranks.items() if name in HEADLINE}
    if cold.any():
        document["cold"] = {name: ranking_metrics(values[cold]) for name, values in ranks.items()}
    return document
