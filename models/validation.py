"""The validation slice the Trainer stops on (and the Tuner's trials are scored on), carved from the training
examples, never from the evaluation split: the latest training example of a sample of users. TimeSplit marks each
user's latest; users are sampled by a hash of their id, so that at most ModelConfig.validation_examples are held out.
Like the evaluation, it predicts a user's next item from everything before it, later than what the user trains on.
The choice is stable across epochs and runs, and the rest is what trains. Training stops on the slice's Recall@10
over the whole catalog, not on its loss: a softmax grows more confident, and its held-out loss worse, while its
ranking still improves."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.index import excluded_mask
from avrec.models.metrics import target_ranks

BUCKETS = 10_000
MONITOR = "val_recall@10"
SIGNIFICANT_Z = 1.96  # McNemar's z above which one epoch's hits beat another's (two-sided 5%)


def user_share(latest_examples: int, max_examples: int) -> float:
    """The share of users whose latest example is held out: all of them, or as many as max_examples allows."""
    return min(1.0, max_examples / latest_examples) if latest_examples else 0.0


def held_out(features: dict, share: float) -> tf.Tensor:
    """[B] bool: which of a batch of transformed examples belong to the validation slice."""
    latest = tf.reshape(tf.cast(features[P.LATEST], tf.bool), [-1])
    users = tf.strings.to_hash_bucket_fast(tf.reshape(features[P.USER_KEY], [-1]), BUCKETS)
    return latest & (users < int(round(share * BUCKETS)))


def part(examples: tf.data.Dataset, share: float, batch_size: int, held: bool) -> tf.data.Dataset:
    """Batches of dense features -> the validation slice in batches of `batch_size` (held), or the rest: each batch
    less its few held examples. Whole batches are masked rather than taken apart example by example."""

    def select(features: dict) -> dict:
        chosen = tf.equal(held_out(features, share), held)
        return {name: tf.boolean_mask(value, chosen) for name, value in features.items()}

    chosen = examples.map(select, num_parallel_calls=tf.data.AUTOTUNE)
    chosen = chosen.unbatch().batch(batch_size) if held else chosen.filter(
        lambda features: tf.size(features[P.LATEST]) > 0)
    return chosen.prefetch(tf.data.AUTOTUNE)


def windows(examples: tf.data.Dataset, share: float, per_batch: int) -> tf.data.Dataset:
    """Batches of dense features -> their window rows (models.retrieval), `per_batch` at a time, each marked `held`
    when its target is in the validation slice: the window trains its other targets."""

    def select(features: dict) -> dict:
        chosen = tf.reshape(features[P.WINDOW], [-1]) > 0
        features = {**features, P.HELD: held_out(features, share)}  # share 0: none held
        return {name: tf.boolean_mask(value, chosen) for name, value in features.items()}

    return examples.map(select, num_parallel_calls=tf.data.AUTOTUNE).unbatch().batch(per_batch).prefetch(
        tf.data.AUTOTUNE)


def hits_at_10(model, examples: tf.data.Dataset, keep=None, cold: bool = False) -> np.ndarray:
    """[N] bool, in the examples' order: whether each scored example's target ranks in the top 10 of `model` (a
    TwoTowerModel) against every catalog item, its history excluded and ties counted against the target, as the
    evaluation ranks. keep: the pretrained modalities read ([M] bool; default: the model's own). cold: each target
    read as a cold item (its content alone, the OOV id) among every other item as trained: how well the model would
    rank an item nobody has interacted with yet."""
    table, unknown = model.item_table(training=False, keep=keep)
    cold_table = model.item_table(training=False, keep=keep, ids=False)[0] if cold else None
    hits = []
    for batch in examples:
        queries = model.queries(batch, table, unknown, training=False)
        scores = tf.matmul(queries, table, transpose_b=True)
        rows, _ = model.recent_history(batch)
        targets = model.catalog.rows_of(tf.reshape(batch[P.ITEM_KEY], [-1]))
        if cold_table is not None:
            target = tf.one_hot(tf.maximum(targets, 0), model.catalog.size)
            cold_scores = tf.reduce_sum(queries * tf.gather(cold_table, tf.maximum(targets, 0)), axis=1)
            scores += target * (cold_scores[:, tf.newaxis] - scores)
        ranks = target_ranks(scores, targets, excluded_mask(rows, model.catalog.size))
        hits.append(tf.boolean_mask(ranks < 10, targets >= 0).numpy())
    return np.concatenate(hits) if hits else np.zeros(0, bool)


def recall_of(hits: np.ndarray) -> float:
    """The share of hits that hit (0 without a scored example)."""
    return float(hits.mean()) if hits.size else 0.0


def recall_at_10(model, examples: tf.data.Dataset, keep=None, cold: bool = False) -> float:
    return recall_of(hits_at_10(model, examples, keep, cold))


class ValidationRecall(tf.keras.callbacks.Callback):
    """At each epoch's end, the validation slice's Recall@10 as `val_recall@10` in the epoch's logs, for the
    stopping rule, the Tuner and the epoch log; `hits` holds that epoch's hit of each example."""

    def __init__(self, examples: tf.data.Dataset):
        super().__init__()
        self.examples = examples
        self.hits: np.ndarray | None = None

    def __deepcopy__(self, memo):
        return self  # keras-tuner copies callbacks per trial; a dataset cannot be copied, and needs not be

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            self.hits = hits_at_10(self.model, self.examples)
            logs[MONITOR] = recall_of(self.hits)


def beats_by_more_than_chance(better: np.ndarray, other: np.ndarray) -> bool:
    """Whether the hits `better` beat `other` on the same examples by more than chance (z above SIGNIFICANT_Z):
    [N] bool each, McNemar's test on the examples exactly one of them hits; [R, N], R reads of each example, the
    same test on each example's summed difference (the reads of one example move together, so they are one
    observation, not R)."""
    differences = np.sum(np.atleast_2d(better).astype(np.int64) - np.atleast_2d(other).astype(np.int64), axis=0)
    spread = float(np.sum(differences ** 2))
    return spread > 0 and bool(np.sum(differences) / np.sqrt(spread) > SIGNIFICANT_Z)


class StopAndKeep(tf.keras.callbacks.Callback):
    """Stops after `patience` epochs without a gain in the slice's Recall@10, and keeps the last epoch's weights
    unless the best epoch's beat them on the slice by more than chance (restore_best; otherwise the last are kept).

    Why not simply the best: on a slice of a few thousand examples Recall@10 moves by a few hits from epoch to
    epoch, so which epoch scores best is partly luck, while the epochs after it went on from it with a learning rate
    halved after each (`plateau_lr_factor`). Measured on short histories, the best-scoring epoch served test Recall@10
    0.0948 and the last, 3 hits behind it on the slice, 0.0984. `kept_epoch` (1-based) says which was kept."""

    def __init__(self, scores: ValidationRecall, patience: int, restore_best: bool):
        super().__init__()
        self.scores, self.patience, self.restore_best = scores, patience, restore_best
        self.kept_epoch: int | None = None

    def on_train_begin(self, logs=None):
        self.best, self.best_epoch, self.best_hits, self.best_weights, self.waited = -np.inf, None, None, None, 0
        self.last_epoch = self.kept_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        recall = (logs or {}).get(MONITOR)
        if recall is None:
            return
        self.last_epoch = epoch
        if recall > self.best:
            self.best, self.best_epoch, self.best_hits, self.waited = recall, epoch, self.scores.hits, 0
            if self.restore_best:
                self.best_weights = self.model.get_weights()
            return
        self.waited += 1
        if self.waited >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.last_epoch is None:
            return
        self.kept_epoch = self.last_epoch + 1
        if (self.restore_best and self.best_epoch != self.last_epoch and self.best_hits is not None
                and beats_by_more_than_chance(self.best_hits, self.scores.hits)):
            self.model.set_weights(self.best_weights)
            self.kept_epoch = self.best_epoch + 1


def stopping(examples: tf.data.Dataset, config: ModelConfig, restore_best: bool) -> list[tf.keras.callbacks.Callback]:
    """The callbacks that train on the validation slice's Recall@10: score it each epoch, lower the learning rate
    by `plateau_lr_factor` after an epoch without gain, stop after `patience` of them (StopAndKeep: which epoch's
    weights are kept)."""
    scores = ValidationRecall(examples)
    callbacks = [scores]
    if config.plateau_lr_factor < 1:
        callbacks.append(tf.keras.callbacks.ReduceLROnPlateau(MONITOR, factor=config.plateau_lr_factor, patience=1,
                                                              mode="max", min_delta=0.0))
    return callbacks + [StopAndKeep(scores, config.patience, restore_best)]
