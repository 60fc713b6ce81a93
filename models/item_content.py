"""Pretrained content embeddings of the catalog, looked up by raw item id inside the candidate tower.

Computed once per catalog by the ContentEmbedder component (frozen encoders), they ride along in the exported model
so an item is embedded the same way in training, in the served index and when a catalog refresh adds items (the
tables grow, hence the open first dimension).
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

MODALITIES = ("text", "image", "audio")


def content_text(title: tf.Tensor, genres: tf.Tensor, text: tf.Tensor) -> tf.Tensor:
    """The string the text encoder reads for an item, as avrec.content.item_text writes it for the catalog:
    "title. genre, genre. text" with empty parts left out (genres [B, G], "" padded)."""
    genre_list = tf.strings.reduce_join(tf.ragged.boolean_mask(genres, genres != ""), axis=1, separator=", ")
    parts = tf.stack([tf.strings.strip(title), genre_list, tf.strings.strip(text)], axis=1)
    return tf.strings.reduce_join(tf.ragged.boolean_mask(parts, parts != ""), axis=1, separator=". ")


class ItemContent(tf.keras.layers.Layer):
    def __init__(self, item_ids: np.ndarray, vectors: dict[str, np.ndarray], present: np.ndarray, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.rows = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)
        self.rows.insert(tf.constant(item_ids), tf.range(len(item_ids), dtype=tf.int64))
        # A modality no item has (a catalog without audio) arrives with zero columns: keep one zero column, so the
        # tower keeps one shape and simply never sees that modality present.
        matrices = {name: vectors[name] if vectors[name].shape[1] else np.zeros((len(item_ids), 1))
                    for name in MODALITIES}
        self.vectors = {name: tf.Variable(matrix.astype(np.float32), shape=[None, matrix.shape[1]], trainable=False,
                                          name=f"{name}_embeddings") for name, matrix in matrices.items()}
        self.present = tf.Variable(present.astype(bool), shape=[None, len(MODALITIES)], trainable=False,
                                   name="present")

    def dims(self) -> dict[str, int]:
        return {name: int(variable.shape[1]) for name, variable in self.vectors.items()}

    def call(self, item_ids):
        """-> ({modality: [B, D]}, present [B, 3]); unknown items have nothing present and zero vectors."""
        row = tf.reshape(self.rows.lookup(item_ids), tf.shape(item_ids))
        known = tf.expand_dims(row >= 0, -1)
        safe = tf.maximum(row, 0)
        vectors = {name: tf.where(known, tf.gather(variable, safe), 0.0) for name, variable in self.vectors.items()}
        return vectors, tf.logical_and(known, tf.gather(self.present, safe))

    def upsert(self, item_ids, text):
        """Set the text embedding of these items, appending new ids; a new item has no image or audio (yet)."""
        row = tf.reshape(self.rows.lookup(item_ids), tf.shape(item_ids))
        is_new = row < 0
        new_ids = tf.boolean_mask(item_ids, is_new)
        size = tf.shape(self.present, out_type=tf.int64)[0]
        new_rows = size + tf.range(tf.size(new_ids, out_type=tf.int64))
        self.rows.insert(new_ids, new_rows)
        row = tf.expand_dims(tf.tensor_scatter_nd_update(row, tf.where(is_new), new_rows), 1)
        grown = tf.size(new_ids)
        for name, variable in self.vectors.items():
            padded = tf.concat([variable, tf.zeros([grown, variable.shape[1]])], 0)
            variable.assign(tf.tensor_scatter_nd_update(padded, row, text) if name == "text" else padded)
        padded = tf.concat([self.present, tf.zeros([grown, len(MODALITIES)], tf.bool)], 0)
        current = tf.gather(padded, row[:, 0])
        with_text = tf.concat([tf.ones_like(current[:, :1]), current[:, 1:]], axis=1)
        self.present.assign(tf.tensor_scatter_nd_update(padded, row, with_text))
