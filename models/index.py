"""The served item index: every catalog item's embedding (and title) by item id, scored against queries, and able
to grow when a catalog refresh adds items without retraining.

`GrowableRows` maps string ids to the rows of tables that grow: known ids keep their row, new ids take the next ones.
The index and the pretrained content lookup (item_content.py) both keep their tables this way.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec import contract


class GrowableRows(tf.Module):
    def __init__(self, ids, name: str | None = None):
        super().__init__(name=name)
        ids = tf.constant(ids, tf.string)
        self.ids = tf.Variable(ids, shape=[None], trainable=False, name="ids")
        self.table = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)
        self.table.insert(ids, tf.range(tf.size(ids, out_type=tf.int64)))

    def size(self) -> tf.Tensor:
        return tf.shape(self.ids, out_type=tf.int64)[0]

    def lookup(self, ids: tf.Tensor) -> tf.Tensor:
        """Row of each id, -1 where unknown (the mutable table forgets the static shape: restore it)."""
        return tf.reshape(self.table.lookup(ids), tf.shape(ids))

    def insert(self, ids: tf.Tensor) -> tf.Tensor:
        """Rows of `ids` [n] (unique), new ids appended after the last row."""
        rows = self.lookup(ids)
        is_new = rows < 0
        new_ids = tf.boolean_mask(ids, is_new)
        new_rows = self.size() + tf.range(tf.size(new_ids, out_type=tf.int64))
        self.table.insert(new_ids, new_rows)
        self.ids.assign(tf.concat([self.ids, new_ids], 0))
        return tf.tensor_scatter_nd_update(rows, tf.where(is_new), new_rows)


def grow(variable: tf.Variable, size: tf.Tensor) -> None:
    """Pads a table with zero rows ("" for strings, False for flags) up to `size` rows."""
    missing = size - tf.shape(variable, out_type=tf.int64)[0]
    padding = tf.zeros(tf.concat([[missing], tf.shape(variable, out_type=tf.int64)[1:]], 0), variable.dtype)
    variable.assign(tf.concat([variable, padding], 0))


def excluded_mask(rows: tf.Tensor | tf.RaggedTensor, num_items: tf.Tensor) -> tf.Tensor:
    """[batch, num_items] bool: True at each row's given item rows (negative rows, i.e. unknown ids, ignored)."""
    if not isinstance(rows, tf.RaggedTensor):
        rows = tf.RaggedTensor.from_tensor(rows)
    valid = tf.ragged.boolean_mask(rows, rows >= 0)
    batch_rows = tf.cast(valid.value_rowids(), tf.int64)
    indices = tf.stack([batch_rows, tf.cast(valid.flat_values, tf.int64)], axis=1)
    shape = tf.cast(tf.stack([valid.nrows(), tf.cast(num_items, tf.int64)]), tf.int64)
    hits = tf.sparse.SparseTensor(indices, tf.ones_like(batch_rows, tf.int32), shape)
    return tf.sparse.to_dense(tf.sparse.reorder(hits), validate_indices=False) > 0


class ItemIndex(tf.Module):
    """Item embeddings [N, D] and titles [N] by item id; `top_k` scores queries against every item."""

    def __init__(self, item_ids, embeddings: tf.Tensor, titles, name: str | None = None):
        super().__init__(name=name)
        self.rows = GrowableRows(item_ids, name="item_rows")
        self.embeddings = tf.Variable(embeddings, shape=[None, embeddings.shape[1]], trainable=False,
                                      name="item_embedding_index")
        self.titles = tf.Variable(tf.constant(titles, tf.string), shape=[None], trainable=False, name="titles")

    @property
    def item_ids(self) -> tf.Variable:
        return self.rows.ids

    def excluded(self, item_ids) -> tf.Tensor:
        """[batch, N] mask of the given ids ([batch, E], dense or ragged; padding and unknown ids ignored)."""
        rows = (tf.ragged.map_flat_values(self.rows.lookup, item_ids) if isinstance(item_ids, tf.RaggedTensor)
                else self.rows.lookup(item_ids))
        return excluded_mask(rows, self.rows.size())

    def scores(self, queries: tf.Tensor, cosine: bool = False) -> tf.Tensor:
        """Dot products with every item; `cosine` compares directions only (an item's length carries how broadly it
        appeals, which says nothing of what it is like)."""
        if cosine:
            return tf.matmul(tf.math.l2_normalize(queries, -1), tf.math.l2_normalize(self.embeddings, -1),
                             transpose_b=True)
        return tf.matmul(queries, self.embeddings, transpose_b=True)

    def top_k(self, scores: tf.Tensor, excluded_ids: tf.Tensor, k: int) -> dict[str, tf.Tensor]:
        """The k best of every item's scores ([batch, N]) per row, the excluded ids ([batch, E]) left out."""
        scores = tf.where(self.excluded(excluded_ids), tf.constant(-np.inf, tf.float32), scores)
        top = tf.math.top_k(scores, k=k)
        return {contract.ITEM_IDS: tf.gather(self.item_ids, top.indices), contract.SCORES: top.values}

    def embeddings_of(self, item_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """(indexed embeddings [B, D], known [B]); rows of unknown ids are garbage, mask them with `known`."""
        rows = self.rows.lookup(item_ids)
        return tf.gather(self.embeddings, tf.maximum(rows, 0)), rows >= 0

    def titles_of(self, item_ids: tf.Tensor) -> tf.Tensor:
        rows = self.rows.lookup(item_ids)
        return tf.where(rows >= 0, tf.gather(self.titles, tf.maximum(rows, 0)), contract.PADDING)

    def upsert(self, item_ids: tf.Tensor, embeddings: tf.Tensor, titles: tf.Tensor) -> tf.Tensor:
        """Re-embeds known items in place and appends new ones; ids must be unique in one call. Returns rows."""
        rows = self.rows.insert(item_ids)
        size = self.rows.size()
        for table, values in ((self.embeddings, embeddings), (self.titles, titles)):
            grow(table, size)
            table.scatter_nd_update(tf.expand_dims(rows, 1), values)
        return rows
