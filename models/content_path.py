"""The content candidate path: an item trained on few times or never is also scored by how close its pretrained text
is to the history's (cosine with the mean of the history items' unit text vectors, as the content-only baseline
ranks): the towers' score plus weight * cosine + bias, with a weight and a bias per interaction bucket: cold (never
in training) and few (1 to FEW_INTERACTIONS times). Items trained on more often are the towers' alone. The bias
places a bucket against the others (the towers' scores of unfamiliar items are off in level, not only in order).

Why: the towers read a cold item through a content projection learned only from warm items; on short histories plain
text similarity ranks such items better than that projection does. The weights are fitted on the validation slice
(models.content_path_fit), so where the path does not pay the model is served without it.

Served, the path keeps each index row's unit text vector and bucket: a query's history mean is one more product with
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


def unit_rows(vectors: tf.Tensor) -> tf.Tensor:
    """Rows scaled to length 1 (a zero row, an item without text, stays zero)."""
    return tf.math.divide_no_nan(vectors, tf.norm(vectors, axis=-1, keepdims=True))


def history_text(text: tf.Tensor, rows: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
    """Unit mean of the unit text vectors [N, T] of history rows [B, L] (-1 or absent: left out) -> [B, T]."""
    known = tf.cast(present & (rows >= 0), text.dtype)[:, :, tf.newaxis]
    return unit_rows(tf.reduce_sum(tf.gather(text, tf.maximum(rows, 0)) * known, axis=1))


def weighted(cosines: tf.Tensor, item_weights: tf.Tensor, item_biases: tf.Tensor) -> tf.Tensor:
    """cosines [B, N] -> weight * cosine + bias, per item ([N] each)."""
    return cosines * item_weights[tf.newaxis] + item_biases[tf.newaxis]


class ContentPath(tf.Module):
    def __init__(self, text: np.ndarray, buckets: np.ndarray, weights=(0.0, 0.0), biases=(0.0, 0.0),
                 name: str | None = "content_path"):
        """text: [N, T] pretrained text vectors in index order (zero rows where absent); buckets: [N] as
        interaction_buckets; weights, biases: the cold and few buckets'."""
        super().__init__(name=name)
        self.text = tf.Variable(unit_rows(tf.constant(text, tf.float32)), shape=[None, text.shape[1]],
                                trainable=False, name="unit_text")
        self.buckets = tf.Variable(tf.constant(buckets, tf.int32), shape=[None], trainable=False, name="buckets")
        self.weights = tf.Variable(np.array([*weights, 0.0], np.float32), trainable=False, name="bucket_weights")
        self.biases = tf.Variable(np.array([*biases, 0.0], np.float32), trainable=False, name="bucket_biases")

    def cosines(self, rows: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
        """[B, N]: each item's text cosine with the history (index rows [B, L], -1 unknown)."""
        return tf.matmul(history_text(self.text, rows, present), self.text, transpose_b=True)

    def scores(self, rows: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
        """[B, N]: each item's weight * text cosine with the history + bias."""
        return weighted(self.cosines(rows, present), tf.gather(self.weights, self.buckets),
                        tf.gather(self.biases, self.buckets))

    def upsert(self, rows: tf.Tensor, text: tf.Tensor, size: tf.Tensor) -> None:
        """Sets the text of index rows; rows past the end are new items, appended as cold ones."""
        for table in (self.text, self.buckets):
            grow(table, size)  # zero padding: bucket 0 is cold
        self.text.scatter_nd_update(tf.expand_dims(rows, 1), unit_rows(tf.cast(text, tf.float32)))
