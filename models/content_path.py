"""The content candidate path: an item trained on few times or never is also scored by how close its pretrained text
is to the history's: the towers' score plus weight * (affinity - threshold), with a weight and a threshold per
interaction bucket: cold (never in training) and few (1 to FEW_INTERACTIONS times). Items trained on more often are
the towers' alone. A bucket's path is two-sided (items below the threshold lose score) or one-sided (only items above
it gain: those the towers already rank well keep their place). A bucket's towers' scores are also multiplied by its
scale (1 or less): the towers read a rarely trained item through an id embedding fitted on a handful of examples
(or the OOV id, which id dropout trains on popular items), so their scores of such items are off in level, and a
lower level lets the path reorder the bucket by text.

The affinity is the cosine between an item's unit text vector and the history's (a recency-weighted mean of the
history items' unit text vectors, half-life in history items; 0 weighs all alike, as the content-only baseline
does), standardized over the catalog for that query: how many standard deviations the item stands above the catalog's
typical cosine with this history. A raw cosine's level and spread differ from one history to the next (a narrow
history is close to everything of its genre), so no one threshold would place cold items against warm ones for
every user; in standard deviations it means the same for each. The two-sided path also places a bucket against the
others (the towers' scores of unfamiliar items are off in level, not only in order).

Why: the towers read a cold item through a content projection learned only from warm items; on short histories plain
text similarity ranks such items better than that projection does. The half-life, weights, thresholds, sides and scales
are fitted on the validation slice (models.content_path_fit), so where the path does not pay the model is served
without it.

Served, the path keeps each index row's unit text vector and bucket: a query's history text is one more product with
the index (TF Serving needs nothing else). A catalog refresh appends new items as cold ones.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import FEW_INTERACTIONS
from avrec.models.index import grow

BUCKETS = ("cold", "few", "many")


def interaction_buckets(counts: np.ndarray) -> np.ndarray:
    """Training interactions per item -> its bucket (0 cold, 1 few, 2 many)."""
    counts = np.asarray(counts)
    return np.where(counts == 0, 0, np.where(counts <= FEW_INTERACTIONS, 1, 2)).astype(np.int32)


def history_text(text: tf.Tensor, rows: tf.Tensor, present: tf.Tensor, half_life: tf.Tensor | float) -> tf.Tensor:
    """Unit recency-weighted mean of the unit text vectors [N, T] of history rows [B, L] (most recent last; -1 or
    absent: left out) -> [B, T]. An item k known items before the latest weighs 0.5 ** (k / half_life); a half-life
    of 0 weighs all alike."""
    known = tf.cast(present & (rows >= 0), text.dtype)
    before_latest = tf.math.cumsum(known, axis=1, reverse=True) - 1.0
    half_life = tf.cast(half_life, text.dtype)
    decay = tf.where(half_life > 0, tf.pow(0.5, before_latest / tf.maximum(half_life, 1e-6)), 1.0)
    weighted_sum = tf.reduce_sum(tf.gather(text, tf.maximum(rows, 0)) * (known * decay)[:, :, tf.newaxis], axis=1)
    return tf.math.l2_normalize(weighted_sum, axis=-1)  # a zero row (no text) stays zero


def affinities(text: tf.Tensor, rows: tf.Tensor, present: tf.Tensor, half_life: tf.Tensor | float) -> tf.Tensor:
    """[B, N]: each item's text cosine with the history, in standard deviations above the catalog's mean cosine with
    that history (all zero for a history without text)."""
    cosines = tf.matmul(history_text(text, rows, present, half_life), text, transpose_b=True)
    mean, variance = tf.nn.moments(cosines, axes=[1], keepdims=True)
    return tf.math.divide_no_nan(cosines - mean, tf.sqrt(variance))


def weighted(affinity: tf.Tensor, item_weights: tf.Tensor, item_thresholds: tf.Tensor,
             item_one_sided: tf.Tensor) -> tf.Tensor:
    """affinities [B, N] -> weight * (affinity - threshold), that difference floored at 0 where one-sided (1.0;
    0.0: two-sided), per item ([N] each)."""
    above = affinity - item_thresholds[tf.newaxis]
    return item_weights[tf.newaxis] * (above - item_one_sided[tf.newaxis] * tf.minimum(above, 0.0))


class ContentPath(tf.Module):
    def __init__(self, text: np.ndarray, buckets: np.ndarray, weights=(0.0, 0.0), thresholds=(0.0, 0.0),
                 one_sided=(False, False), half_life: float = 0.0, scales=(1.0, 1.0),
                 name: str | None = "content_path"):
        """text: [N, T] pretrained text vectors in index order (zero rows where absent); buckets: [N] as
        interaction_buckets; weights, thresholds, one_sided, scales: the cold and few buckets'; half_life: the
        history's (history_text)."""
        super().__init__(name=name)
        self.text = tf.Variable(tf.math.l2_normalize(tf.constant(text, tf.float32), axis=-1),
                                shape=[None, text.shape[1]], trainable=False, name="unit_text")
        self.buckets = tf.Variable(tf.constant(buckets, tf.int32), shape=[None], trainable=False, name="buckets")
        self.weights = tf.Variable(np.array([*weights, 0.0], np.float32), trainable=False, name="bucket_weights")
        self.thresholds = tf.Variable(np.array([*thresholds, 0.0], np.float32), trainable=False,
                                      name="bucket_thresholds")
        self.one_sided = tf.Variable(np.array([*one_sided, False], np.float32), trainable=False,
                                     name="bucket_one_sided")
        self.half_life = tf.Variable(float(half_life), trainable=False, name="half_life")
        self.scales = tf.Variable(np.array([*scales, 1.0], np.float32), trainable=False, name="bucket_scales")

    def rescaled(self, towers: tf.Tensor) -> tf.Tensor:
        """The towers' scores [B, n] of the first n index rows, each multiplied by its bucket's scale."""
        return towers * tf.gather(self.scales, self.buckets[:tf.shape(towers)[1]])[tf.newaxis]

    def affinities(self, rows: tf.Tensor, present: tf.Tensor, half_life: tf.Tensor | float | None = None) -> tf.Tensor:
        """[B, N]: each item's affinity with the history (index rows [B, L], most recent last, -1 unknown)."""
        return affinities(self.text, rows, present, self.half_life if half_life is None else half_life)

    def scores(self, rows: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
        """[B, N]: each item's weight * (affinity with the history - threshold), as `weighted`."""
        return weighted(self.affinities(rows, present), *(tf.gather(values, self.buckets)
                                                          for values in (self.weights, self.thresholds,
                                                                         self.one_sided)))

    def upsert(self, rows: tf.Tensor, text: tf.Tensor, size: tf.Tensor) -> None:
        """Sets the text of index rows; rows past the end are new items, appended as cold ones."""
        for table in (self.text, self.buckets):
            grow(table, size)  # zero padding: bucket 0 is cold
        self.text.scatter_nd_update(tf.expand_dims(rows, 1), tf.math.l2_normalize(tf.cast(text, tf.float32), axis=-1))
