"""The TFRS two-tower retrieval model: in-batch softmax with a temperature and sampling-bias (log-Q) correction."""
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


class TwoTowerModel(tfrs.Model):
    def __init__(self, sizes: VocabularySizes, config: ModelConfig, item_probabilities: np.ndarray | None = None,
                 content: ItemContent | None = None, text_encoder: tf.keras.layers.Layer | None = None):
        super().__init__()
        self.candidate_tower = CandidateTower(sizes, config, content, text_encoder, name="candidate_tower")
        self.query_tower = QueryTower(sizes, self.candidate_tower.item_embedding, config, name="query_tower")
        self.item_probabilities = (tf.constant(item_probabilities, tf.float32)
                                   if config.logq_correction and item_probabilities is not None else None)
        self.task = tfrs.tasks.Retrieval(temperature=config.temperature, remove_accidental_hits=True)

    def compute_loss(self, features, training=False):
        queries = self.query_tower(features, training=training)
        candidates = self.candidate_tower(features, training=training)
        item_ids = features[P.ITEM_INDEX]
        probabilities = (tf.gather(self.item_probabilities, item_ids)
                         if self.item_probabilities is not None else None)
        return self.task(queries, candidates, candidate_sampling_probability=probabilities,
                         candidate_ids=item_ids, compute_metrics=False, compute_batch_metrics=False)
