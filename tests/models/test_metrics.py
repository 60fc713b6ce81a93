"""Ranking metrics from target ranks, shared by TFMA and the baselines."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.models.index import excluded_mask
from avrec.models.metrics import NdcgAtK, RecallAtK, ranking_metrics, target_ranks


def test_target_ranks_exclude_seen_items_but_never_the_target():
    scores = tf.constant([[0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.4]])
    excluded = excluded_mask(tf.ragged.constant([[0, 2], [3, -1]], tf.int64), 4)
    assert excluded.numpy().tolist() == [[True, False, True, False], [False, False, False, True]]
    ranks = target_ranks(scores, tf.constant([3, 3]), excluded).numpy().tolist()
    assert ranks == [1.0, 0.0]  # row 0: only item 1 beats it once 0 and 2 are excluded; row 1: the target wins


def test_recall_and_ndcg_from_ranks():
    ranks = np.array([0, 1, 9, 10, 49, 50], np.float32)
    metrics = ranking_metrics(ranks)
    assert metrics["recall@10"] == pytest.approx(3 / 6)
    assert metrics["recall@50"] == pytest.approx(5 / 6)
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(11)) / 6)
    assert RecallAtK(10).name == "recall_at_10" and NdcgAtK.from_config(NdcgAtK(10).get_config()).k == 10


def test_a_tie_counts_against_the_target():
    scores = tf.constant([[0.5, 0.5, 0.5, 0.2], [0.1, 0.9, 0.9, 0.9]])
    excluded = tf.zeros([2, 4], tf.bool)
    # Row 0: two other items score as high as the target: it ranks after both. Row 1: likewise, behind 2 and 3.
    assert target_ranks(scores, tf.constant([0, 1]), excluded).numpy().tolist() == [2.0, 2.0]


def test_a_method_that_cannot_tell_items_apart_never_scores_a_hit():
    """All scores equal (a degenerate model, an empty history, an item nobody trained on): the target ranks after
    every item that is not excluded, so Recall@K is 0 for any K below the catalog size."""
    num_items = 200
    scores = tf.zeros([3, num_items])
    excluded = excluded_mask(tf.ragged.constant([[5, 6], [], [0]], tf.int64), num_items)
    ranks = target_ranks(scores, tf.constant([7, 0, 1]), excluded).numpy()
    assert ranks.tolist() == [num_items - 3, num_items - 1, num_items - 2]
    assert ranking_metrics(ranks) == {"recall@10": 0.0, "recall@50": 0.0, "ndcg@10": 0.0}


def test_a_target_without_a_finite_score_or_outside_the_catalog_ranks_last():
    scores = tf.constant([[np.nan, 0.1, 0.2], [np.inf, 0.1, 0.2], [0.3, 0.1, 0.2]])
    ranks = target_ranks(scores, tf.constant([0, 0, -1]), tf.zeros([3, 3], tf.bool)).numpy().tolist()
    assert ranks == [2.0, 2.0, 3.0]
