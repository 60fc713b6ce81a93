"""A self-attentive history encoder for the query tower (SASRec-style): the history's item embeddings plus learned
recency embeddings, through pre-norm transformer blocks, read out at the most recent item.

It shares the item-id table with the candidate tower, so the order of what a user watched shapes the query while the
items keep one representation. Every example's history is the prefix before its target, so training on each
example's last position trains every position of every sequence.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf


class SelfAttentionBlocks(tf.keras.layers.Layer):
    """Pre-norm transformer blocks (self-attention, then a feed-forward layer, each residual) and a final norm:
    [B, L, D] with an attention mask [B, L, L] and a padding mask `keep` [B, L, 1] -> [B, L, D]."""

    def __init__(self, dim: int, blocks: int, heads: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.attention = [tf.keras.layers.MultiHeadAttention(heads, max(1, dim // heads), dropout=dropout,
                                                             name=f"attention_{n}") for n in range(blocks)]
        self.feed_forward = [tf.keras.Sequential([tf.keras.layers.Dense(dim, activation="relu"),
                                                  tf.keras.layers.Dropout(dropout), tf.keras.layers.Dense(dim)],
                                                 name=f"feed_forward_{n}") for n in range(blocks)]
        self.norms = [tf.keras.layers.LayerNormalization(epsilon=1e-6) for _ in range(2 * blocks + 1)]

    def call(self, x, mask, keep, training=None):
        for block, (attention, feed_forward) in enumerate(zip(self.attention, self.feed_forward)):
            query = self.norms[2 * block](x)
            x = x + attention(query, query, attention_mask=mask, training=training)
            x = (x + feed_forward(self.norms[2 * block + 1](x), training=training)) * keep
        return self.norms[-1](x)


class SelfAttentiveHistory(tf.keras.layers.Layer):
    """[B, L] item indices, most recent last, `padding` on the right -> [B, D] (zeros for an empty history)."""

    def __init__(self, item_embedding: tf.keras.layers.Embedding, length: int, dim: int, blocks: int, heads: int,
                 dropout: float, padding: int, **kwargs):
        super().__init__(**kwargs)
        self.item_embedding, self.padding, self.length = item_embedding, padding, length
        self.recency = tf.keras.layers.Embedding(length, dim, name="recency")  # 0: the most recent item
        self.dropout = tf.keras.layers.Dropout(dropout)
        self.blocks = SelfAttentionBlocks(dim, blocks, heads, dropout, name="blocks")

    def call(self, indices, training=None):
        present = indices != self.padding
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)
        offsets = tf.range(tf.shape(indices)[1])[tf.newaxis]
        recency = tf.clip_by_value(lengths[:, tf.newaxis] - 1 - offsets, 0, self.length - 1)
        keep = tf.cast(present, tf.float32)[:, :, tf.newaxis]
        x = self.dropout(self.item_embedding(tf.maximum(indices, 0)) + self.recency(recency), training=training)
        x = self.blocks(x * keep, present[:, tf.newaxis, :] & present[:, :, tf.newaxis], keep, training=training)
        latest = tf.gather(x, tf.maximum(lengths - 1, 0), batch_dims=1)
        return latest * tf.cast(lengths > 0, tf.float32)[:, tf.newaxis]
