"""The TFRS two-tower retrieval model over the catalog's items, trained with one of two softmax losses
(ModelConfig.loss):

- full softmax: each example's target against every catalog item, the catalog re-embedded by the item tower at each
  step, as the sequential references (SASRec with cross-entropy) are trained; its cost per step grows with the
  catalog;
- in-batch softmax: against the batch's other targets, with sampling-bias (log-Q) correction, for catalogs too large
  to embed at every step; only the batch's own items (targets and history) are embedded.

A training row is one target with the history before it. With every_position (ModelConfig.every_position), a row
TimeSplit marks as a window trains each of its last `window` items from the items before it, as SASRec trains every
position of a sequence: the windows tile a user's training targets, so an epoch reads each user's history about once
rather than once per target, which makes an epoch tens of times cheaper for long histories.

Scores are dot products divided by the temperature: an item vector's length is free to carry how broadly it
appeals, as an unnormalised SASRec's does.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.catalog_items import CatalogItems
from avrec.models.item_content import ItemContent
from avrec.models.layers import recent
from avrec.models.towers import CandidateTower, QueryTower, VocabularySizes, history_vectors

CATALOG_SLICE = 4096


def sampling_probabilities(counts: np.ndarray) -> np.ndarray:
    """How often each catalog row appears as a positive: in-batch negatives are sampled with this probability, and
    log-Q correction subtracts its log so popular items are not over-penalised as negatives."""
    counts = np.asarray(counts, np.float32)
    return np.maximum(counts, 1.0) / max(float(counts.sum()), 1.0)


class TwoTowerModel(tfrs.Model):
    def __init__(self, sizes: VocabularySizes, config: ModelConfig, catalog: CatalogItems,
                 item_probabilities: np.ndarray | None = None, content: ItemContent | None = None,
                 text_encoder: tf.keras.layers.Layer | None = None, full_softmax: bool = True,
                 every_position: bool = False):
        """item_probabilities: per catalog row, for the in-batch loss's log-Q correction; every_position: train each
        row's window (features[P.WINDOW]) at every position, as SASRec does, instead of its target alone."""
        super().__init__()
        self.catalog, self.config, self.full_softmax, self.sizes = catalog, config, full_softmax, sizes
        self.every_position = every_position
        self.candidate_tower = CandidateTower(sizes, config, content, text_encoder, name="candidate_tower")
        self.query_tower = QueryTower(sizes, config, name="query_tower")
        self.item_probabilities = (tf.constant(item_probabilities, tf.float32)
                                   if config.logq_correction and item_probabilities is not None else None)
        self.task = tfrs.tasks.Retrieval(temperature=config.temperature, remove_accidental_hits=True)
        # Catalog items training never saw are no full-softmax negatives: they are never positives either, so the
        # loss would learn that the unknown id (which they all share) means "never watched", and rank every cold
        # item last. Their vectors are learned instead through warm items whose id is dropped (IdDropout).
        self.untrained_logit = tf.where(catalog.features[P.ITEM_INDEX] >= sizes.items, -1e9, 0.0)

    def behaviour_only(self, on: bool) -> None:
        """Pretraining mode: items are their id embeddings alone and queries their history alone (takes effect at
        the next compile)."""
        self.candidate_tower.behaviour_only = self.query_tower.behaviour_only = on

    def item_table(self, training=None, keep=None, ids=True) -> tuple[tf.Tensor, tf.Tensor]:
        """(every catalog item's vector [N, D], the vector of an id the catalog lacks [1, D]). Outside training the
        catalog is embedded in slices, so a fine-tuned text encoder never holds the whole catalog at once. keep and
        ids: as CandidateTower.call (ablations and cold-item validation)."""
        unknown = self.candidate_tower(self.catalog.unknown, training=False, keep=keep)
        if training:
            return self.candidate_tower(self.catalog.features, training=True), unknown
        slices = [self.candidate_tower(self.catalog.take(tf.range(start, min(start + CATALOG_SLICE,
                                                                             self.catalog.size))),
                                       keep=keep, ids=ids)
                  for start in range(0, self.catalog.size, CATALOG_SLICE)]
        return tf.concat(slices, axis=0), unknown

    def recent_history(self, features) -> tuple[tf.Tensor, tf.Tensor]:
        """(catalog rows [B, L] of the most recent history items, -1 where absent or unknown; present [B, L])."""
        keys = recent(features[P.HISTORY_KEYS], self.config.history_length, P.HISTORY_PAD)
        return self.catalog.rows_of(keys), keys != P.HISTORY_PAD

    def queries(self, features, table: tf.Tensor, unknown: tf.Tensor, training=None) -> tf.Tensor:
        rows, present = self.recent_history(features)
        return self.query_tower(features, history_vectors(table, rows, present, unknown), present, training=training)

    def compute_loss(self, features, training=False):
        rows, present = self.recent_history(features)
        items, trained = self._slots(features, rows, present)
        if self.full_softmax:
            table, unknown = self.item_table(training)
            queries = self._queries(features, history_vectors(table, rows, present, unknown), present, trained,
                                    training)
            targets = tf.boolean_mask(items, trained)
            logits = tf.matmul(queries, table, transpose_b=True)
            known = tf.cast(targets >= 0, tf.float32)  # a target outside the catalog (never in a valid log) counts nothing
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
                tf.maximum(targets, 0), logits / self.config.temperature + self.untrained_logit)
            return tf.reduce_sum(losses * known) / tf.maximum(tf.reduce_sum(known), 1.0)
        return self._in_batch_loss(features, rows, present, items, trained, training)

    def _slots(self, features, rows, present) -> tuple[tf.Tensor, tf.Tensor]:
        """(catalog rows [B, W + 1] of each row's history then its target, -1 past it; the slots trained [B, W + 1]):
        the target alone, or with every_position the row's last `window` items (its target left out where the row is
        `held` for validation)."""
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)[:, tf.newaxis]
        targets = self.catalog.rows_of(tf.reshape(features[P.ITEM_KEY], [-1, 1]))
        slots = tf.range(tf.shape(rows)[1] + 1)[tf.newaxis]
        items = tf.where(slots == lengths, targets, tf.pad(rows, [[0, 0], [0, 1]], constant_values=-1))
        if not self.every_position:
            return items, slots == lengths
        window = tf.cast(tf.reshape(features[P.WINDOW], [-1, 1]), tf.int32)
        trained = (slots > lengths - window) & (slots <= lengths)
        if P.HELD in features:
            trained &= ~(tf.reshape(features[P.HELD], [-1, 1]) & (slots == lengths))
        return items, trained

    def _queries(self, features, history, present, trained, training) -> tf.Tensor:
        """One query per trained slot, in row order."""
        if not self.every_position:
            return self.query_tower(features, history, present, training=training)
        return tf.boolean_mask(self.query_tower.every_position(features, history, present, training=training),
                               trained)

    def _in_batch_loss(self, features, rows, present, items, trained, training):
        """Embeds only the rows the batch touches (its targets and history items), once each."""
        needed, position = tf.unique(tf.reshape(items, [-1]))
        vectors = self.candidate_tower(self.catalog.take(tf.maximum(needed, 0)), training=training)
        unknown = self.candidate_tower(self.catalog.unknown, training=False)
        vectors = tf.gather(tf.where(tf.expand_dims(needed >= 0, -1), vectors, unknown),
                            tf.reshape(position, tf.shape(items)))
        history = vectors[:, :-1] * tf.cast(tf.expand_dims(present, -1), vectors.dtype)
        queries = self._queries(features, history, present, trained, training)
        targets = tf.boolean_mask(items, trained)
        probabilities = (tf.gather(self.item_probabilities, tf.maximum(targets, 0))
                         if self.item_probabilities is not None else None)
        return self.task(queries, tf.boolean_mask(vectors, trained), candidate_sampling_probability=probabilities,
                         candidate_ids=targets, compute_metrics=False, compute_batch_metrics=False)
