"""Pretrained content embeddings of the catalog, looked up by raw item id inside the candidate tower.

Computed once per catalog by the ContentEmbedder component (frozen encoders), they ride along in the exported model
so an item is embedded the same way in training, in the served index and when a catalog refresh adds items (the
tables grow with the index's GrowableRows).
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import MODALITIES
from avrec.models.index import GrowableRows, grow


def content_text_tensor(title: tf.Tensor, genres: tf.Tensor, text: tf.Tensor) -> tf.Tensor:
    """avrec.features.content_text in TensorFlow: "title. genre, genre. text", empty parts left out
    (genres [B, G], "" padded)."""
    genre_list = tf.strings.reduce_join(tf.ragged.boolean_mask(genres, genres != ""), axis=1, separator=", ")
    parts = tf.stack([tf.strings.strip(title), genre_list, tf.strings.strip(text)], axis=1)
    return tf.strings.reduce_join(tf.ragged.boolean_mask(parts, parts != ""), axis=1, separator=". ")


class ItemContent(tf.keras.layers.Layer):
    def __init__(self, item_ids: np.ndarray, vectors: dict[str, np.ndarray], present: np.ndarray, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.rows = GrowableRows(item_ids, name="content_rows")
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
        """-> ({modality: [B, D]}, present [B, modalities]); unknown items have nothing present and zero vectors."""
        row = self.rows.lookup(item_ids)
        known = tf.expand_dims(row >= 0, -1)
        safe = tf.maximum(row, 0)
        vectors = {name: tf.where(known, tf.gather(variable, safe), 0.0) for name, variable in self.vectors.items()}
        return vectors, tf.logical_and(known, tf.gather(self.present, safe))

    def upsert(self, item_ids, text):
        """Set the text embedding of these items, appending new ids; a new item has no image or audio (yet)."""
        rows = self.rows.insert(item_ids)
        size = self.rows.size()
        for variable in (*self.vectors.values(), self.present):
            grow(variable, size)
        index = tf.expand_dims(rows, 1)
        self.vectors["text"].scatter_nd_update(index, text)
        current = tf.gather(self.present, rows)
        self.present.scatter_nd_update(index, tf.concat([tf.ones_like(current[:, :1]), current[:, 1:]], axis=1))
