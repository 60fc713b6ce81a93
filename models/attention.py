"""A self-attentive history encoder for the query tower: causal pre-norm transformer blocks over the history's item
vectors, whose attention adds a learned bias per head and per distance back from the reading position (T5's
relative positions), read out at the most recent item.

The item vectors are the item tower's, so the order of what a user watched shapes the query while every item keeps
one representation. No input carries an absolute position, so the read at any position of a sequence is what
reading the prefix ending there alone gives: training can read every position of a window at once (each one a
target's own query) while serving reads the last, with no skew between them.
"""
from __future__ import annotations

import math

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf


def causal_mask(present: tf.Tensor) -> tf.Tensor:
    """[B, L] bool of present positions -> [B, L, L]: each position attends to the present positions up to itself."""
    width = tf.shape(present)[1]
    causal = tf.cast(tf.linalg.band_part(tf.ones([width, width]), -1, 0), tf.bool)
    return causal[tf.newaxis] & present[:, tf.newaxis, :]


class Attention(tf.keras.layers.Layer):
    """Multi-head scaled dot-product attention; with `distances` > 0, each head's logits add a learned bias by how
    far back the key lies from the query (distances from `distances` - 1 on share one bias)."""

    def __init__(self, heads: int, dim: int, dropout: float, distances: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_dim, self.distances = heads, max(1, dim // heads), distances
        self.project = {name: tf.keras.layers.Dense(heads * self.head_dim, name=name) for name in ("query", "key",
                                                                                                  "value")}
        self.merge = tf.keras.layers.Dense(dim, name="merge")
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.bias = (self.add_weight(name="distance_bias", shape=[distances, heads], initializer="zeros")
                     if distances else None)

    def _split(self, x, name):
        x = self.project[name](x)
        return tf.transpose(tf.reshape(x, tf.concat([tf.shape(x)[:2], [self.heads, self.head_dim]], 0)), [0, 2, 1, 3])

    def call(self, queries, keys, mask, distance, training=None):
        """queries [B, Q, D], keys [B, K, D], mask [B, Q, K] (what each query may read), distance [B or 1, Q, K]
        (query position - key position) -> [B, Q, D]."""
        logits = tf.matmul(self._split(queries, "query") / math.sqrt(self.head_dim), self._split(keys, "key"),
                           transpose_b=True)
        logits = tf.where(mask[:, tf.newaxis], logits, -1e9)
        if self.bias is not None:  # added after the mask: oneDNN's fusion of a matmul with a broadcast add is slow
            bias = tf.gather(self.bias, tf.clip_by_value(distance, 0, self.distances - 1))  # [B, Q, K, H]
            logits += tf.transpose(bias, [0, 3, 1, 2])
        read = tf.matmul(self.dropout(tf.nn.softmax(logits), training=training), self._split(keys, "value"))
        read = tf.transpose(read, [0, 2, 1, 3])
        return self.merge(tf.reshape(read, tf.concat([tf.shape(read)[:2], [self.heads * self.head_dim]], 0)))


class SelfAttentionBlocks(tf.keras.layers.Layer):
    """Pre-norm transformer blocks (self-attention, then a feed-forward layer, each residual) and a final norm:
    [B, L, D] with an attention mask [B, L, L] and a padding mask `keep` [B, L, 1] -> [B, L, D]; or, given `read_at`
    [B] (one position per row), -> [B, D] at those positions, the last block computed there alone (its keys and
    values still every position): a third of the work, the same result. distances: as Attention's (0: none)."""

    def __init__(self, dim: int, blocks: int, heads: int, dropout: float, distances: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.attention = [Attention(heads, dim, dropout, distances, name=f"attention_{n}") for n in range(blocks)]
        self.feed_forward = [tf.keras.Sequential([tf.keras.layers.Dense(dim, activation="relu"),
                                                  tf.keras.layers.Dropout(dropout), tf.keras.layers.Dense(dim)],
                                                 name=f"feed_forward_{n}") for n in range(blocks)]
        self.norms = [tf.keras.layers.LayerNormalization(epsilon=1e-6) for _ in range(2 * blocks + 1)]

    def call(self, x, mask, keep, training=None, read_at=None):
        last = len(self.attention) - 1
        positions = tf.range(tf.shape(x)[1])
        distance = (positions[:, tf.newaxis] - positions[tf.newaxis])[tf.newaxis]
        for block, (attention, feed_forward) in enumerate(zip(self.attention, self.feed_forward)):
            normed = self.norms[2 * block](x)
            query = normed
            if read_at is not None and block == last:
                x, query, mask, keep = (tf.gather(value, read_at, batch_dims=1)[:, tf.newaxis]
                                        for value in (x, normed, mask, keep))
                distance = (read_at[:, tf.newaxis] - positions[tf.newaxis])[:, tf.newaxis]
            x = x + attention(query, normed, mask, distance, training=training)
            x = (x + feed_forward(self.norms[2 * block + 1](x), training=training)) * keep
        x = self.norms[-1](x)
        return x if read_at is None else x[:, 0]


class SelfAttentiveHistory(tf.keras.layers.Layer):
    """History item vectors [B, L, D] (most recent last, `present` [B, L] where an item is) -> [B, D]: scaled as
    SASRec scales its inputs, through causal pre-norm blocks with relative-position biases, read at the most recent
    item (zeros for an empty history)."""

    def __init__(self, length: int, dim: int, blocks: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = math.sqrt(dim)
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = SelfAttentionBlocks(dim, blocks, heads, dropout, distances=length, name="blocks")

    def _inputs(self, history, present, training):
        keep = tf.cast(present, tf.float32)[:, :, tf.newaxis]
        return self.dropout(history * self.scale, training=training) * keep, keep

    def call(self, history, present, training=None):
        x, keep = self._inputs(history, present, training)
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)
        latest = self.blocks(x, causal_mask(present), keep, training=training, read_at=tf.maximum(lengths - 1, 0))
        return latest * tf.cast(lengths > 0, tf.float32)[:, tf.newaxis]

    def every_position(self, history, present, training=None):
        """[B, L, D]: the read at each present position, of the items up to it (causal), zeros elsewhere: what `call`
        gives for the history ending there."""
        x, keep = self._inputs(history, present, training)
        return self.blocks(x, causal_mask(present), keep, training=training) * keep
