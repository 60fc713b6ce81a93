"""The catalog as the towers see it: every item's candidate features, one row per item, and the row of each item id.

It is the model's item universe in training. Targets, history items and full-softmax negatives are rows of it, so an
item that training never saw (a cold item, a new release in a history) is still itself: the OOV id embedding plus
its own genres, words and pretrained content, never a shared unknown. Features are dense constants (lists padded
with INDEX_PAD), so any set of rows is one gather away, whether the loss embeds the whole catalog or a batch's rows.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

from avrec.models import preprocessing as P
from avrec.models.towers import MAX_TOKENS


def _dense(values, width: int | None = None) -> tf.Tensor:
    """Sparse or ragged index lists -> [N, W] padded with INDEX_PAD (at least one column)."""
    ragged = tf.RaggedTensor.from_sparse(values) if isinstance(values, tf.SparseTensor) else values
    if width is not None:
        ragged = ragged[:, :width]
    columns = max(1, int(tf.reduce_max(ragged.row_lengths())) if ragged.nrows() else 1)
    return ragged.to_tensor(default_value=P.INDEX_PAD, shape=[None, columns])


def oov_item(features: dict, oov_index: int) -> dict:
    """One item the catalog does not hold: the OOV id, no genres, no words, no content (an empty key)."""
    item = {P.ITEM_INDEX: tf.constant([oov_index], tf.int64), P.ITEM_KEY: tf.constant([P.HISTORY_PAD]),
            P.GENRE_INDICES: tf.constant([[P.INDEX_PAD]], tf.int64),
            P.TOKEN_INDICES: tf.constant([[P.INDEX_PAD]], tf.int64)}
    if P.ENCODER_TEXT in features:
        item[P.ENCODER_TEXT] = tf.constant([""])
    return item


class CatalogItems(tf.Module):
    def __init__(self, transformed: dict, oov_index: int, name: str | None = None):
        """transformed: the Transform graph's output on the catalog (one row per item)."""
        super().__init__(name=name)
        keys = tf.reshape(transformed[P.ITEM_KEY], [-1])
        self.size = int(keys.shape[0])
        self.features = {P.ITEM_INDEX: tf.reshape(tf.cast(transformed[P.ITEM_INDEX], tf.int64), [-1]),
                         P.ITEM_KEY: keys,
                         P.GENRE_INDICES: _dense(transformed[P.GENRE_INDICES]),
                         P.TOKEN_INDICES: _dense(transformed[P.TOKEN_INDICES], MAX_TOKENS)}
        if P.ENCODER_TEXT in transformed:
            self.features[P.ENCODER_TEXT] = tf.reshape(transformed[P.ENCODER_TEXT], [-1])
        self.unknown = oov_item(self.features, oov_index)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.range(self.size, dtype=tf.int64)), default_value=-1)

    def rows_of(self, keys: tf.Tensor) -> tf.Tensor:
        """Catalog row of each id, -1 for padding and ids the catalog does not hold."""
        return self.table.lookup(keys)

    def take(self, rows: tf.Tensor) -> dict:
        """The candidate features of these rows (all >= 0)."""
        return {name: tf.gather(values, rows) for name, values in self.features.items()}
