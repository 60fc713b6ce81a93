"""The validation slice the Trainer stops on, carved from the training examples (never from the evaluation split):
each example whose (user, item, history) hashes into the lowest `share` of buckets. The choice is stable across
epochs and runs, and the rest is what trains. Training stops on the slice's Recall@10 over the whole catalog, not
on its loss: a softmax grows more confident, and its held-out loss worse, while its ranking still improves."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

from avrec.models import preprocessing as P

BUCKETS = 10_000
MONITOR = "val_recall@10"
CATALOG_BATCH = 4096


def held_out(features: dict, share: float) -> tf.Tensor:
    """[B] bool: which of a batch of transformed examples belong to the validation slice."""
    columns = [tf.reshape(tf.cast(features[name], tf.int64), [tf.shape(features[P.ITEM_INDEX])[0], -1])
               for name in (P.USER_INDEX, P.ITEM_INDEX, P.HISTORY_INDICES)]
    key = tf.strings.reduce_join(tf.strings.as_string(tf.concat(columns, axis=1)), axis=1, separator=",")
    return tf.strings.to_hash_bucket_fast(key, BUCKETS) < int(round(share * BUCKETS))


def _one(features: dict, share: float) -> tf.Tensor:
    return held_out({name: tf.expand_dims(features[name], 0)
                     for name in (P.USER_INDEX, P.ITEM_INDEX, P.HISTORY_INDICES)}, share)[0]


def part(examples: tf.data.Dataset, share: float, batch_size: int, held: bool) -> tf.data.Dataset:
    """Batched examples -> batches of `batch_size` of the validation slice (held) or of the rest."""
    chosen = examples.unbatch().filter(lambda features: tf.equal(_one(features, share), held))
    return chosen.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class ValidationRecall(tf.keras.callbacks.Callback):
    """At each epoch's end, the validation slice's Recall@10 against every catalog item (ties against the target)
    as `val_recall@10` in the epoch's logs, for EarlyStopping and the epoch log."""

    def __init__(self, examples: tf.data.Dataset, catalog: dict, row_of_index: tf.Tensor):
        super().__init__()
        self.examples, self.row_of_index = examples, row_of_index
        self.catalog = tf.data.Dataset.from_tensor_slices(catalog).batch(CATALOG_BATCH)

    def on_epoch_end(self, epoch, logs=None):
        candidates = tf.concat([self.model.candidate_tower(batch, training=False) for batch in self.catalog], 0)
        hits = total = 0
        for batch in self.examples:
            scores = tf.matmul(self.model.query_tower(batch, training=False), candidates, transpose_b=True)
            rows = tf.gather(self.row_of_index, tf.reshape(batch[P.ITEM_INDEX], [-1]))
            known = rows >= 0
            target = tf.gather(scores, tf.maximum(rows, 0), batch_dims=1)
            ahead = tf.reduce_sum(tf.cast(scores >= target[:, tf.newaxis], tf.int32), axis=1) - 1
            hits += int(tf.reduce_sum(tf.cast(known & (ahead < 10), tf.int32)))
            total += int(tf.reduce_sum(tf.cast(known, tf.int32)))
        if logs is not None:
            logs[MONITOR] = hits / max(total, 1)
