"""Fitting the content path's history half-life and its weight and bias per bucket (models.content_path) on the
validation slice, never the evaluation split.

Each candidate re-ranks the slice's examples against the whole catalog, history excluded, as the evaluation ranks.
A share of the trained items, chosen by a hash of their id, is read as cold throughout (bucket cold), as the
evaluation's cold items are read: the OOV id, and each word of theirs that no other
trained item has replaced by the OOV word (an unseen item's own words never reach the vocabulary), so that nothing
learned from their interactions is left. A weight is then judged on cold targets competing with other cold items as
well as with warm ones, and a weight that floods the top with cold items costs the warm targets what it would cost
them in service. For each half-life of a grid, the cold bucket is fitted first, then the few bucket: in each, the
(weight, threshold) of a grid with the best mean of the cold and few targets' Recall@10 among those that keep the
other targets' Recall@10 within `max_warm_drop` (relative) of no path at all; the half-life whose fit scores best is
kept, and no gain means no path. A bucket's items gain weight * (affinity - threshold): the threshold is in standard
deviations of the history's cosines, the weight a multiple of the spread of the towers' scores, so one grid fits any
model. A bucket with fewer than MIN_BUCKET_TARGETS validation targets is not fitted:
at a recall of a few percent, the standard error over fewer examples is as large as any gain a weight could show,
and a weight fitted on that noise moves items into everyone's top ten.

A trained item's pretrained vectors are as unique as its id: the shared layers learned them from its interactions,
and read through them it scored as a warm item would (on a short-history set, 2.6 times the Recall@10 that truly
unseen items get from the towers). So the simulated cold items are read without pretrained content, from the OOV id,
their shared words and categories: a lower bound on what an unseen item's reading carries, so the fit errs towards
the text path, and the warm targets' bound keeps that from costing them.
"""
from __future__ import annotations

import itertools

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import MODALITIES
from avrec.models import preprocessing as P
from avrec.models.content_path import BUCKETS, ContentPath, interaction_buckets, weighted
from avrec.models.index import excluded_mask
from avrec.models.metrics import target_ranks

SIMULATED_COLD_SHARE = 0.1
HASH_BUCKETS = 10_000
# Candidates: weights in standard deviations of the towers' scores; thresholds in standard deviations of a history's
# cosines with the catalog (the few items of a catalog that stand out lie 2 to 5 above its mean); history half-lives in
# history items (0: a plain mean).
WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0)
THRESHOLDS = tuple(np.arange(-1.0, 6.01, 0.5))
HALF_LIVES = (0.0, 1.0, 2.0)
TOP = 10
MIN_BUCKET_TARGETS = 100


def simulated_cold(item_keys: tf.Tensor, buckets: np.ndarray) -> np.ndarray:
    """[N] bool: trained items read as cold in the fit (a stable choice by a hash of the id)."""
    hashed = tf.strings.to_hash_bucket_fast(item_keys, HASH_BUCKETS).numpy()
    return (hashed < SIMULATED_COLD_SHARE * HASH_BUCKETS) & (buckets > 0)


def _cold_read(model, simulated: np.ndarray, counts: np.ndarray) -> tf.Tensor:
    """The item vectors of the simulated cold rows as a never-trained item's: OOV id, own words OOV, no pretrained
    content (what the towers learned of it from its interactions)."""
    rows = np.flatnonzero(simulated)
    features = model.catalog.features
    tokens = features[P.TOKEN_INDICES].numpy()
    others = tokens[(counts > 0) & ~simulated]
    shared = np.isin(tokens[rows], others[others >= 0])
    read = np.where(shared | (tokens[rows] == P.INDEX_PAD), tokens[rows], model.sizes.tokens)
    cold = {**model.catalog.take(tf.constant(rows, tf.int64)), P.TOKEN_INDICES: tf.constant(read, tf.int64)}
    return model.candidate_tower(cold, training=False, ids=False, keep=tf.zeros([len(MODALITIES)], tf.bool))


def _text(model) -> tf.Tensor | None:
    """Every catalog item's pretrained text vector (zero where it has none), or None when text is not read."""
    tower = model.candidate_tower
    if tower.content is None or not bool(tower.modality_keep[0]):
        return None
    vectors, present = tower.content(model.catalog.features[P.ITEM_KEY])
    return vectors["text"] * tf.cast(present[:, :1], tf.float32)


class _Slice:
    """The validation slice's towers' scores and text affinities, batch by batch, re-ranked under candidate paths."""

    def __init__(self, model, examples, table, unknown, path: ContentPath, read_buckets: np.ndarray):
        self.batches = []
        for batch in examples:
            rows, present = model.recent_history(batch)
            targets = model.catalog.rows_of(tf.reshape(batch[P.ITEM_KEY], [-1]))
            self.batches.append((model.queries(batch, table, unknown, training=False), rows, present, targets,
                                 read_buckets[np.maximum(targets.numpy(), 0)], targets.numpy() >= 0))
        self.model, self.table, self.path, self.read_buckets = model, table, path, read_buckets
        self.totals = sum(np.bincount(buckets[known], minlength=len(BUCKETS))
                          for *_, buckets, known in self.batches) if self.batches else np.zeros(len(BUCKETS))
        first = self.batches[0][0] if self.batches else None
        self.spread = float(tf.math.reduce_std(tf.matmul(first, table, transpose_b=True))) if first is not None else 1.0

    def recalls(self, candidates: list[tuple[np.ndarray, np.ndarray]], half_life: float) -> np.ndarray:
        """[candidates, buckets] Recall@10 of each (weights [3], biases [3]) in units of the spread."""
        hits = np.zeros((len(candidates), len(BUCKETS)))
        for queries, rows, present, targets, target_buckets, known in self.batches:
            towers = tf.matmul(queries, self.table, transpose_b=True)
            affinity = self.path.affinities(rows, present, half_life)
            excluded = excluded_mask(rows, self.model.catalog.size)
            for number, (weights, biases) in enumerate(candidates):
                item_weights = tf.gather(tf.constant(weights * self.spread, tf.float32), self.read_buckets)
                item_biases = tf.gather(tf.constant(biases * self.spread, tf.float32), self.read_buckets)
                scores = towers + weighted(affinity, item_weights, item_biases)
                ranks = target_ranks(scores, targets, excluded).numpy()
                hits[number] += np.bincount(target_buckets[known & (ranks < TOP)], minlength=len(BUCKETS))
        return hits / np.maximum(self.totals, 1)


def _fit_buckets(slice_: _Slice, half_life: float, targeted: list[int], without: np.ndarray,
                 max_warm_drop: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights [3], biases [3], Recall@10 [3]) for one half-life, bucket by bucket."""
    weights, biases = np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS))
    best = without
    for bucket in targeted:
        candidates = []
        for weight, threshold in itertools.product(WEIGHTS, THRESHOLDS):
            candidate = weights.copy(), biases.copy()
            candidate[0][bucket], candidate[1][bucket] = weight, -weight * threshold
            candidates.append(candidate)
        recalls = slice_.recalls(candidates, half_life)
        feasible = recalls[:, 2] >= (1 - max_warm_drop) * without[2]
        objective = np.where(feasible, recalls[:, targeted].mean(axis=1), -1.0)
        if objective.max() > best[targeted].mean():
            number = int(np.argmax(objective))
            (weights, biases), best = candidates[number], recalls[number]
    return weights, biases, best


def _fit(slice_: _Slice, max_warm_drop: float,
         min_targets: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(half-life, weights [3], biases [3], Recall@10 without the path [3], with it [3])."""
    without = slice_.recalls([(np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS)))], 0.0)[0]
    targeted = [bucket for bucket in range(2) if slice_.totals[bucket] >= max(min_targets, 1)]
    best = (0.0, np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS)), without)
    for half_life in HALF_LIVES if targeted else ():
        fitted = (half_life, *_fit_buckets(slice_, half_life, targeted, without, max_warm_drop))
        if fitted[3][targeted].mean() > best[3][targeted].mean():
            best = fitted
    return (*best[:3], without, best[3])


def fit_content_path(model, examples: tf.data.Dataset, counts: np.ndarray, max_warm_drop: float,
                     min_targets: int = MIN_BUCKET_TARGETS) -> tuple[ContentPath | None, dict]:
    """(the fitted path in catalog order, or None where the model reads no text or no bucket gains: the served score
    then skips it; a report for history.json)."""
    text = _text(model)
    if text is None:
        return None, {"off": "the model reads no pretrained text"}
    buckets = interaction_buckets(counts)
    simulated = simulated_cold(model.catalog.features[P.ITEM_KEY], buckets)
    read_buckets = np.where(simulated, 0, buckets).astype(np.int32)
    table, unknown = model.item_table(training=False)
    if simulated.any():
        table = tf.tensor_scatter_nd_update(table, np.flatnonzero(simulated)[:, np.newaxis],
                                            _cold_read(model, simulated, counts))
    slice_ = _Slice(model, examples, table, unknown, ContentPath(text, read_buckets), read_buckets)
    half_life, weights, biases, without, with_path = _fit(slice_, max_warm_drop, min_targets)

    def per_bucket(values, scale=1.0):
        return {name: round(float(values[number] * scale), 4) for number, name in enumerate(BUCKETS)}

    report = {"weights": per_bucket(weights, slice_.spread), "biases": per_bucket(biases, slice_.spread),
              "half_life": half_life, "spread": round(slice_.spread, 4),
              "validation_examples": per_bucket(slice_.totals),
              "simulated_cold_items": int(simulated.sum()), "min_bucket_targets": min_targets,
              "without": per_bucket(without),
              "with": per_bucket(with_path)}
    if not (weights.any() or biases.any()):
        return None, report
    return ContentPath(text.numpy(), buckets, (weights * slice_.spread)[:2], (biases * slice_.spread)[:2],
                       half_life), report


def describe(report: dict) -> str:
    """One line of the fit for the run's progress log."""
    if "off" in report:
        return f"off ({report['off']})"
    recall = " / ".join(f"{report['with'][name]:.4f} ({report['without'][name]:.4f})" for name in BUCKETS)
    return (f"history half-life {report['half_life']:g}; weight, bias: cold {report['weights']['cold']:.3g}, "
            f"{report['biases']['cold']:.3g}; few "
            f"{report['weights']['few']:.3g}, {report['biases']['few']:.3g}; validation Recall@10 cold / few / many "
            f"with the path (without): {recall}")
