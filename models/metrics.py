"""Full-catalog ranking metrics, shared by the model's evaluation (through TFMA) and the baselines.

Every method reduces an evaluation example to one number, the target item's rank among all catalog items the user
has not already seen (0 = first). Recall@K and NDCG@K are then functions of that rank alone, so the model and the
baselines are scored by the same code: these Keras metrics read the rank as the prediction and ignore the label.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

from avrec import contract


def target_ranks(scores: tf.Tensor, targets: tf.Tensor, excluded: tf.Tensor) -> tf.Tensor:
    """Rank of each row's target among the items that are not excluded (0 = first).

    scores: [batch, items]; targets: [batch] item positions, -1 for a target outside the catalog; excluded: [batch,
    items] bool (the user's seen items). The target itself is never excluded: re-consuming an item is a legitimate
    hit. A tie counts against the target: every other item scoring at least as high ranks before it, so a method
    that cannot tell items apart (all scores equal, an empty history, an item nobody trained on) never scores a hit.
    A target without a finite score, or outside the catalog, ranks last.
    """
    num_items = tf.shape(scores)[1]
    known = targets >= 0
    safe = tf.where(known, targets, tf.zeros_like(targets))
    target_scores = tf.gather(scores, safe, batch_dims=1)
    is_target = tf.one_hot(safe, num_items, on_value=True, off_value=False) & tf.expand_dims(known, 1)
    competitors = tf.logical_not(excluded) & tf.logical_not(is_target)
    ahead = (scores >= tf.expand_dims(target_scores, 1)) & competitors
    last = tf.reduce_sum(tf.cast(competitors, tf.float32), axis=1)
    ranks = tf.reduce_sum(tf.cast(ahead, tf.float32), axis=1)
    return tf.where(known & tf.math.is_finite(target_scores), ranks, last)


class _RankMetric(tf.keras.metrics.Mean):
    def __init__(self, k: int, name: str | None = None, **kwargs):
        super().__init__(name=name or f"{self.prefix}_at_{k}", **kwargs)
        self.k = k

    def gain(self, ranks: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        ranks = tf.reshape(tf.cast(y_pred, tf.float32), [-1])
        return super().update_state(self.gain(ranks))

    def get_config(self):
        return {**super().get_config(), "k": self.k}


class RecallAtK(_RankMetric):
    """Share of held-out interactions whose item is in the top K (one relevant item per example)."""

    prefix = "recall"

    def gain(self, ranks):
        return tf.cast(ranks < self.k, tf.float32)


class NdcgAtK(_RankMetric):
    """NDCG@K with one relevant item per example: 1 / log2(rank + 2) when it is in the top K, else 0."""

    prefix = "ndcg"

    def gain(self, ranks):
        return tf.where(ranks < self.k, 1.0 / (tf.math.log(ranks + 2.0) / tf.math.log(2.0)), 0.0)


# Reported metrics: name in metrics.json -> (metric class, k).
REPORTED = {"recall@10": (RecallAtK, 10), "recall@50": (RecallAtK, 50), "ndcg@10": (NdcgAtK, 10)}
# Two protocols, each a rank per evaluation example: "next" ranks each held-out item from the whole history before it
# (next-item prediction); "future" from the history before the user's evaluation period only, nothing held out fed
# back. A protocol's metrics are reported under its prefix: recall@10, future_recall@10, ...
PROTOCOLS = {"next": "", "future": "future_"}
# The model's `evaluate` signature output of each protocol's ranks.
PROTOCOL_OUTPUTS = {"next": contract.RANK, "future": contract.FUTURE_RANK}
# Recall@K at these K draws the Recall@K curves of the report (next-item protocol).
CURVE_KS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100)


def tfma_name(reported: str) -> str:
    """TF metric and variable names cannot contain '@'."""
    return reported.replace("@", "_at_")


def curve_name(k: int) -> str:
    return f"recall@{k}"


def _value(metric_class, k: int, ranks) -> float:
    metric = metric_class(k)
    metric.update_state(None, tf.constant(ranks, tf.float32))
    return float(metric.result())


def ranking_metrics(ranks, prefix: str = "") -> dict[str, float]:
    """The reported metrics of a vector of target ranks, computed by the same metric classes TFMA runs."""
    return {prefix + name: _value(metric_class, k, ranks) for name, (metric_class, k) in REPORTED.items()}


def recall_curve(ranks) -> dict[str, float]:
    """Recall@K at every K of CURVE_KS, keyed by K as a string (as JSON keeps it)."""
    return {str(k): _value(RecallAtK, k, ranks) for k in CURVE_KS}
