"""The TFRS two-tower retrieval model, trained with one of two softmax losses (ModelConfig.loss):

- full softmax: each example's target against every catalog item, re-embedded by the candidate tower at each step,
  as the sequential references (SASRec with cross-entropy) are trained; its cost per step grows with the catalog;
- in-batch softmax: against the batch's other targets, with a temperature and sampling-bias (log-Q) correction,
  for catalogs too large to embed at every step.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.item_content import ItemContent
from avrec.models.towers import CandidateTower, QueryTower, VocabularySizes


def sampling_probabilities(counts: np.ndarray) -> np.ndarray:
    """How often each item index appears as a positive (counts per index): in-batch negatives are sampled with this
    probability, and log-Q correction subtracts its log so popular items are not over-penalised as negatives."""
    counts = np.asarray(counts, np.float32)
    return np.maximum(counts, 1.0) / max(float(counts.sum()), 1.0)


def catalog_rows(catalog: dict, table_size: int) -> tf.Tensor:
    """[table_size]: the catalog row of each item index (-1: not in the catalog), from the catalog's features."""
    indices = np.asarray(catalog[P.ITEM_INDEX]).reshape(-1)
    rows = np.full(table_size, -1, np.int64)
    rows[indices] = np.arange(len(indices))
    return tf.constant(rows)


class CatalogSoftmax:
    """Cross-entropy of each query against every catalog item. `catalog` holds the catalog's transformed candidate
    features (one row per item, constants: no weights of its own); a target's row is found from its item index."""

    def __init__(self, catalog: dict, table_size: int, temperature: float):
        self.catalog, self.temperature = catalog, temperature
        self.row_of_index = catalog_rows(catalog, table_size)

    def __call__(self, queries, item_indices, candidate_tower, training=None):
        candidates = candidate_tower(self.catalog, training=training)
        logits = tf.matmul(queries, candidates, transpose_b=True) / self.temperature
        rows = tf.gather(self.row_of_index, tf.reshape(item_indices, [-1]))
        known = tf.cast(rows >= 0, tf.float32)  # a target outside the catalog (never in a valid log) counts nothing
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(rows, 0), logits)
        return tf.reduce_sum(losses * known) / tf.maximum(tf.reduce_sum(known), 1.0)


class TwoTowerModel(tfrs.Model):
    def __init__(self, sizes: VocabularySizes, config: ModelConfig, item_probabilities: np.ndarray | None = None,
                 content: ItemContent | None = None, text_encoder: tf.keras.layers.Layer | None = None,
                 catalog: dict | None = None):
        """catalog: the transformed candidate features of every catalog item, for the full softmax; None: in-batch."""
        super().__init__()
        self.candidate_tower = CandidateTower(sizes, config, content, text_encoder, name="candidate_tower")
        self.query_tower = QueryTower(sizes, self.candidate_tower.item_embedding, config, name="query_tower")
        self.item_probabilities = (tf.constant(item_probabilities, tf.float32)
                                   if config.logq_correction and item_probabilities is not None else None)
        self.task = tfrs.tasks.Retrieval(temperature=config.temperature, remove_accidental_hits=True)
        self.full_softmax = (CatalogSoftmax(catalog, sizes.items + config.oov_buckets, config.temperature)
                             if catalog is not None else None)

    def compute_loss(self, features, training=False):
        queries = self.query_tower(features, training=training)
        item_ids = features[P.ITEM_INDEX]
        if self.full_softmax is not None:
            return self.full_softmax(queries, item_ids, self.candidate_tower, training=training)
        candidates = self.candidate_tower(features, training=training)
        probabilities = (tf.gather(self.item_probabilities, item_ids)
                         if self.item_probabilities is not None else None)
        return self.task(queries, candidates, candidate_sampling_probability=probabilities,
                         candidate_ids=item_ids, compute_metrics=False, compute_batch_metrics=False)
