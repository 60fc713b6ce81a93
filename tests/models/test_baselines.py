"""The non-learned and reference baselines, on catalogs small enough to rank by hand."""
import numpy as np
import pytest
import scipy.sparse as sparse

from avrec.config import EvalConfig
from avrec.models.baselines.batch import EvalBatch
from avrec.models.baselines.builder import build_baselines
from avrec.models.baselines.content_only import ContentOnly
from avrec.models.baselines.ease import Ease
from avrec.models.baselines.interactions import TrainingInteractions, incidence, positions
from avrec.models.baselines.itemknn import ItemKnn
from avrec.models.baselines.popularity import Popularity
from avrec.models.baselines.random_scores import RandomScores
from avrec.models.baselines.ranks import baseline_metrics, baseline_ranks
from avrec.models.baselines.recent_popularity import DAY, RecentPopularity, daily_counts
from avrec.models.baselines.sasrec import SasRec, SasRecConfig, fitted_to


def _batch(histories, num_items, timestamps=None):
    histories = [np.asarray(history, np.int64) for history in histories]
    timestamps = np.zeros(len(histories), np.int64) if timestamps is None else np.asarray(timestamps)
    return EvalBatch(incidence(histories, num_items), histories, timestamps)


def _ranks(baselines, histories, targets, num_items, timestamps=None):
    batches = [(_batch(histories, num_items, timestamps), np.asarray(targets, np.int64))]
    return baseline_ranks(baselines, batches)


def test_baselines_rank_by_popularity_and_by_cosine_neighbours():
    index = {item: n for n, item in enumerate([b"a", b"b", b"c", b"d"])}
    # Training: a is the most popular; c and d are always watched together.
    train = TrainingInteractions.from_ids(np.array([b"1", b"2", b"3", b"1", b"4", b"4", b"5", b"5"]),
                                          np.array([b"a", b"a", b"a", b"b", b"c", b"d", b"c", b"d"]), index)
    text = np.array([[1, 0], [0, 1], [1, 1], [1, 0.1]], np.float32)
    ranks = _ranks([Popularity(train.item_counts()), ItemKnn(train), ContentOnly(text), RandomScores(4)],
                   [positions([b"c"], index), positions([b"b"], index)], positions([b"d", b"a"], index), 4)
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
    train = TrainingInteractions(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2]), 40)
    text = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    ranks = _ranks([ItemKnn(train), ContentOnly(text)], [[0], []], [30, 30], 40)
    assert ranks["itemknn"].tolist() == [38.0, 39.0]
    assert ranks["content_only"][1] == 39.0


def test_ease_learns_which_items_go_together():
    # Users watch pairs (0, 1), (2, 3) and (4, 5): the partner of a watched item ranks first.
    rows = np.repeat(np.arange(30), 2)
    items = np.concatenate([[2 * (user % 3), 2 * (user % 3) + 1] for user in range(30)])
    ease = Ease(sparse.csr_matrix((np.ones(60, np.float32), (rows, items)), shape=(30, 6)), regularization=1.0)
    ranks = _ranks([ease], [[0], [3], [4]], [1, 2, 5], 6)
    assert ranks["ease"].tolist() == [0.0, 0.0, 0.0]


def test_recent_popularity_counts_only_the_days_before_each_example():
    # Item 0 was popular long ago, item 1 in the last days before the examples.
    timestamps = np.array([1, 2, 3, 40, 41] , np.int64) * DAY
    counts = daily_counts(timestamps, np.array([0, 0, 0, 1, 1]), 3, first_day=0, num_days=60)
    recent = RecentPopularity(counts, first_day=0, days=10)
    ranks = _ranks([recent, Popularity(np.bincount([0, 0, 0, 1, 1], minlength=3))], [[], []], [1, 0], 3,
                   timestamps=np.array([45, 5]) * DAY)
    assert ranks["recent_popularity"].tolist() == [0.0, 0.0]  # day 45 looks back at 35-44; day 5 at 0-4
    assert ranks["popularity"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("seed", [0])
def test_sasrec_learns_the_order_of_items(seed):
    """Items follow each other in a fixed cycle: popularity is no help, the sequential reference must get it."""
    rng = np.random.default_rng(seed)
    num_items = 30
    sequences = [(rng.integers(num_items) + np.arange(12)) % num_items for _ in range(300)]
    sasrec = SasRec(sequences, num_items, SasRecConfig(max_length=8, dim=32, max_epochs=25, patience=3))
    histories = [(start + np.arange(6)) % num_items for start in range(num_items)]
    targets = [(start + 6) % num_items for start in range(num_items)]
    ranks = _ranks([sasrec, Popularity(np.bincount(np.concatenate(sequences), minlength=num_items))], histories,
                   targets, num_items)
    assert (ranks["sasrec"] < 10).mean() > 0.9 and (ranks["popularity"] < 10).mean() < 0.6
    assert 1 <= sasrec.epochs <= 25


def test_sasrec_fits_its_window_to_short_histories():
    config = SasRecConfig(max_length=50, batch_size=64)
    short = fitted_to(config, [np.arange(n) for n in [5, 6, 7, 8, 9, 10] * 20])
    assert short.max_length == 10 and short.batch_size == 64  # as many sequences (updates) per epoch
    assert fitted_to(config, [np.arange(200)] * 3) == config


def test_slices_score_few_interaction_and_cold_targets_and_never_cold_ones_without_history():
    ranks = {"popularity": np.array([0.0, 20.0, 0.0, 3.0, 0.0]), "content_only": np.array([5.0, 1.0, 2.0, 0.0, 0.0])}
    future = {name: values + 10 for name, values in ranks.items()}  # the history before the period: ranked lower
    document = baseline_metrics(ranks, future, np.array(["many", "few", "cold", "cold", "cold_no_history"]))
    assert document["popularity"]["recall@10"] == 0.5  # warm = many + few
    assert document["few"]["popularity"]["recall@10"] == 0.0 and "content_only" not in document["few"]
    # The cold example without a history is left out, although it ranked first.
    assert document["cold"]["popularity"]["recall@10"] == 1.0 and document["cold"]["content_only"]["ndcg@10"] < 1.0
    assert document["popularity"]["future_recall@10"] == 0.0 and document["popularity"]["future_recall@50"] == 1.0
    assert document["curves"]["warm"]["popularity"]["1"] == 0.5 and document["curves"]["cold"]["content_only"]["100"] == 1.0


def test_baselines_beyond_their_budgets_are_skipped_with_the_cost_named():
    """SASRec's budget is its full softmax's work (items x training interactions), not either factor alone."""
    sequences = [np.array([0, 1, 2]), np.array([1, 2, 3]), np.array([2, 3, 0])]
    train = {"counts": np.ones(4, np.float32), "sequences": sequences,
             "knn": TrainingInteractions(np.repeat(np.arange(3), 3), np.concatenate(sequences), 4)}
    config = EvalConfig(baselines=("popularity", "ease", "sasrec"), ease_max_items=3, sasrec_budget=4 * 9 - 1)
    seconds = {}
    fitted, skipped = build_baselines(config, train, 0, None, seconds)
    assert [baseline.name for baseline in fitted] == ["popularity"] and set(seconds) == {"popularity"}
    assert "4 items exceed ease_max_items=3" in skipped["ease"]
    assert "4 items x 9 training interactions (36 an epoch) exceeds sasrec_budget=35" in skipped["sasrec"]
