"""The non-learned baselines, on a catalog small enough to rank by hand."""
import numpy as np

from avrec.models.baselines.interactions import TrainingInteractions, positions
from avrec.models.baselines.ranks import baseline_ranks


def _ranks(catalog, train_users, train_items, targets, histories, item_text=None):
    index = {item: n for n, item in enumerate(catalog)}
    train = TrainingInteractions.from_ids(np.array(train_users), np.array(train_items), index)
    return baseline_ranks(train.item_counts(), train, positions(targets, index),
                          [positions(history, index) for history in histories], item_text)


def test_baselines_rank_by_popularity_and_by_cosine_neighbours():
    catalog = [b"a", b"b", b"c", b"d"]
    # Training: a is the most popular; c and d are always watched together.
    ranks = _ranks(catalog, [b"1", b"2", b"3", b"1", b"4", b"4", b"5", b"5"],
                   [b"a", b"a", b"a", b"b", b"c", b"d", b"c", b"d"], [b"d", b"a"], [[b"c"], [b"b"]],
                   item_text=np.array([[1, 0], [0, 1], [1, 1], [1, 0.1]], np.float32))
    # popularity order a(3) > c(2) = d(2) > b(1); c is excluded for the first example (its history).
    assert ranks["popularity"].tolist() == [1.0, 0.0]
    # d's only neighbour is c, which is in the history: d ranks first; a shares user 1 with b: first too.
    assert ranks["itemknn"].tolist() == [0.0, 0.0]
    # content-only: the history's text points at c's text; d = (1, 0.1) is closest after c (excluded): first.
    assert ranks["content_only"].tolist() == [0.0, 2.0]  # a = (1, 0) is orthogonal to history b: c and d beat it
    assert set(ranks["random"].tolist()) <= {0.0, 1.0, 2.0}


def test_baselines_cannot_hit_items_they_know_nothing_about():
    """A cold item (nobody trained on it) ties every other unseen item under item-kNN; an empty history ties every
    item under item-kNN and content-only. Ties count against the target: no hit."""
    catalog = [f"i{n}".encode() for n in range(40)]
    item_text = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    ranks = _ranks(catalog, [b"1", b"1", b"2", b"2"], [b"i0", b"i1", b"i1", b"i2"], [b"i30", b"i30"],
                   [[b"i0"], []], item_text)
    assert ranks["itemknn"].tolist() == [38.0, 39.0]
    assert ranks["content_only"][1] == 39.0
