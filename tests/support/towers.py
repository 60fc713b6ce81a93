"""Transformed-feature batches for the model tests, as Transform's output would give them."""
import tensorflow as tf

from avrec.models import preprocessing as P
from avrec.models.towers import VocabularySizes

SIZES = VocabularySizes(users=5, items=8, genres=3, tokens=20)


def features(users, items, histories, config):
    return {
        P.USER_INDEX: tf.constant(users, tf.int64),
        P.ITEM_INDEX: tf.constant(items, tf.int64),
        P.HISTORY_INDICES: P.last_n(tf.ragged.constant(histories, dtype=tf.int64, ragged_rank=1)
                                    if any(histories) else tf.RaggedTensor.from_row_lengths(
                                        tf.zeros([0], tf.int64), [0] * len(users)),
                                    config.history_length, P.HISTORY_PAD),
        P.GENRE_INDICES: tf.sparse.from_dense(tf.constant([[1, 0]] * len(items), tf.int64)),
        P.TOKEN_INDICES: tf.ragged.constant([[i % 20, (i + 3) % 20] for i in items], tf.int64).to_sparse(),
    }
