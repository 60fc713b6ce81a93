"""Small Keras layers the towers are built from."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf


def as_ragged(ids, padding: int | None = None) -> tf.RaggedTensor:
    """Sparse, ragged or padded dense id batches -> ragged."""
    if isinstance(ids, tf.RaggedTensor):
        return ids
    if isinstance(ids, tf.SparseTensor):
        return tf.RaggedTensor.from_sparse(ids)
    return tf.RaggedTensor.from_tensor(ids, padding=padding)


def recent(ids: tf.Tensor, n: int, padding) -> tf.Tensor:
    """[B, T] ids, oldest first, `padding` wherever absent -> [B, W]: each row's last n present ids, most recent last,
    right-padded; W is the longest of them (at least 1), so a batch of short histories costs short ones."""
    kept = tf.ragged.boolean_mask(ids, ids != padding)[:, -n:]
    width = tf.maximum(tf.reduce_max(kept.row_lengths()), 1)
    return kept.to_tensor(default_value=padding, shape=tf.stack([kept.nrows(), width]))


class MeanPooledEmbedding(tf.keras.layers.Layer):
    """Mean of the embeddings of a variable-length id list; an empty list pools to zeros, never NaN.

    Pass `embedding` to pool over a table another layer owns (the history shares the item-id table).
    """

    def __init__(self, embedding: tf.keras.layers.Embedding, padding: int | None = None, limit: int | None = None,
                 **kwargs):
        """limit: pool only each list's first `limit` ids."""
        super().__init__(**kwargs)
        self.embedding = embedding
        self.padding = padding
        self.limit = limit

    def call(self, ids):
        ragged = as_ragged(ids, self.padding)
        if self.limit is not None:
            ragged = ragged[:, :self.limit]
        vectors = tf.ragged.map_flat_values(self.embedding, ragged)
        total = tf.reduce_sum(vectors, axis=1)
        count = tf.cast(tf.expand_dims(ragged.row_lengths(), -1), total.dtype)
        return tf.math.divide_no_nan(total, count)


class IdDropout(tf.keras.layers.Layer):
    """In training, replaces an id by the OOV index with probability `rate`.

    The OOV row then learns what an unseen user or item looks like instead of staying at its random initialisation,
    and the content features of a tower learn to carry the signal on their own.
    """

    def __init__(self, rate: float, oov_index: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.oov_index = oov_index
        self.seed = seed

    def call(self, ids, training=None):
        if not training or self.rate <= 0:
            return ids
        drop = tf.random.uniform(tf.shape(ids), seed=self.seed) < self.rate
        return tf.where(drop, tf.cast(self.oov_index, ids.dtype), ids)

