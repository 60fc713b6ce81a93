"""A self-attentive history encoder for the query tower (SASRec-style): the history's item vectors plus learned
recency embeddings, through causal pre-norm transformer blocks, read out at the most recent item.

The item vectors are the item tower's, so the order of what a user watched shapes the query while every item keeps
one representation. Every example's history is the prefix before its target, so training on each example's last
position trains every position of every sequence.
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


class SelfAttentionBlocks(tf.keras.layers.Layer):
    """Pre-norm transformer blocks (self-attention, then a feed-forward layer, each residual) and a final norm:
    [B, L, D] with an attention mask [B, L, L] and a padding mask `keep` [B, L, 1] -> [B, L, D]; or, given `read_at`
    [B] (one position per row), -> [B, D] at those positions, the last block computed there alone (its keys and
    values still every position): a third of the work, the same result."""

    def __init__(self, dim: int, blocks: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.attention = [tf.keras.layers.MultiHeadAttention(heads, max(1, dim // heads), dropout=dropout,
                                                             name=f"attention_{n}") for n in range(blocks)]
        self.feed_forward = [tf.keras.Sequential([tf.keras.layers.Dense(dim, activation="relu"),
                                                  tf.keras.layers.Dropout(dropout), tf.keras.layers.Dense(dim)],
                                                 name=f"feed_forward_{n}") for n in range(blocks)]
        self.norms = [tf.keras.layers.LayerNormalization(epsilon=1e-6) for _ in range(2 * blocks + 1)]

    def call(self, x, mask, keep, training=None, read_at=None):
        last = len(self.attention) - 1
        for block, (attention, feed_forward) in enumerate(zip(self.attention, self.feed_forward)):
            normed = self.norms[2 * block](x)
            query = normed
            if read_at is not None and block == last:
                x, query, mask, keep = (tf.gather(value, read_at, batch_dims=1)[:, tf.newaxis]
                                        for value in (x, normed, mask, keep))
            x = x + attention(query, normed, attention_mask=mask, training=training)
            x = (x + feed_forward(self.norms[2 * block + 1](x), training=training)) * keep
        x = self.norms[-1](x)
        return x if read_at is None else x[:, 0]


class SelfAttentiveHistory(tf.keras.layers.Layer):
    """History item vectors [B, L, D] (most recent last, `present` [B, L] where an item is) -> [B, D]: scaled as
    SASRec scales its inputs, plus recency embeddings (0: the most recent item), through causal pre-norm blocks, read
    at the most recent item (zeros for an empty history)."""

    def __init__(self, length: int, dim: int, blocks: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.length, self.scale = length, math.sqrt(dim)
        self.recency = tf.keras.layers.Embedding(length, dim, name="recency")
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = SelfAttentionBlocks(dim, blocks, heads, dropout, name="blocks")

    def call(self, history, present, training=None):
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)
        width = tf.shape(history)[1]
        recency = tf.clip_by_value(lengths[:, tf.newaxis] - 1 - tf.range(width)[tf.newaxis], 0, self.length - 1)
        keep = tf.cast(present, tf.float32)[:, :, tf.newaxis]
        x = self.dropout(history * self.scale + self.recency(recency), training=training) * keep
        latest = self.blocks(x, causal_mask(present), keep, training=training, read_at=tf.maximum(lengths - 1, 0))
        return latest * tf.cast(lengths > 0, tf.float32)[:, tf.newaxis]
