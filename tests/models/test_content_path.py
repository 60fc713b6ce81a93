"""The content candidate path: cold items as a mixture component, few-interaction items with additive text evidence,
in the served index and fitted on the validation slice."""
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models.content_path import ContentPath, interaction_buckets, path_scores, trained_anchor
from avrec.models.content_path_fit import (COLD_GRID, HALF_LIVES, METRICS, SCALES, _candidates, _fit, _no_path, _text,
                                           cold_folds, cold_read, describe, fit_content_path, validation_slice)
from avrec.models.index import excluded_mask
from avrec.models.metrics import target_ranks
from avrec.models import preprocessing as P
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel
from tests.support.towers import SIZES, catalog, features, key

CATALOG = 40  # items SIZES.items .. CATALOG-1 are cold: never trained on


def _unit(rows):
    rows = np.asarray(rows, float)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def test_the_additive_path_is_the_weighted_standardized_cosine_with_the_recency_weighted_history():
    assert interaction_buckets(np.array([0, 1, 5, 6])).tolist() == [0, 1, 1, 2]
    text = np.array([[1.0, 0], [0, 2.0], [3.0, 1.0], [0, 0]])
    rows, present = tf.constant([[0, 1], [3, -1]], tf.int64), tf.constant([[True, True], [True, False]])
    weights, thresholds = np.array([2.0, 0.5, 0.0, 2.0]), np.array([-0.5, 0.3, 0.0, -0.5])  # per item, by bucket
    scales = np.array([0.5, 0.8, 1.0, 0.5])
    towers = tf.constant([[1.0, -2.0, 3.0, 4.0]] * 2)
    for half_life, history_weights in ((0.0, [1.0, 1.0]), (1.0, [0.5, 1.0])):  # item 1 is the latest
        cosines = _unit(history_weights @ _unit(text[:2])) @ _unit(text).T
        affinity = (cosines - cosines.mean()) / cosines.std()  # item 3 has no text: its cosine is 0
        for one_sided in ((False, False), (False, True), (True, True)):
            path = ContentPath(text, np.array([0, 1, 2, 0]), weights=(2.0, 0.5), thresholds=(-0.5, 0.3),
                               one_sided=one_sided, half_life=half_life, scales=(0.5, 0.8))
            scores = path.apply(towers, rows, present).numpy()
            floor = np.where(np.array([*one_sided, False])[[0, 1, 2, 0]], 0.0, -np.inf)
            expected = towers.numpy()[0] * scales
            np.testing.assert_allclose(scores[0], expected + weights * np.maximum(affinity - thresholds, floor),
                                       atol=1e-5)
            np.testing.assert_allclose(scores[1], expected + weights * np.maximum(-thresholds, floor),
                                       atol=1e-5)  # no history
            # an ablation's table may be shorter than the index: the rows it has are scored alike
            np.testing.assert_allclose(path.apply(towers[:, :3], rows, present).numpy(),
                                       scores[:, :3], atol=1e-6)
        assert affinity[3] < thresholds[3]  # one-sided, the text-less cold item loses nothing
    no_path = ContentPath(text, np.array([0, 1, 2, 0]))
    np.testing.assert_allclose(no_path.apply(towers, rows, present).numpy(), towers.numpy())
    path.upsert(tf.constant([4, 1], tf.int64), tf.constant([[0.0, 5.0], [1.0, 0.0]]), tf.constant(5, tf.int64))
    assert path.buckets.numpy().tolist() == [0, 1, 2, 0, 0]  # the new row is cold, the known one keeps its bucket
    np.testing.assert_allclose(path.text.numpy()[[1, 4]] @ path.text_basis.numpy().T, [[1.0, 0.0], [0.0, 1.0]],
                               atol=1e-6)
    text = np.array([[1.0, 0], [1.0, 0], [3.0, 1.0], [0, 0], [0, 5.0]])  # the catalog's moments follow the refresh
    cosines = _unit(0.5 * _unit(text[0]) + _unit(text[1])) @ _unit(text).T
    np.testing.assert_allclose(path.affinities(rows, present).numpy()[0], (cosines - cosines.mean()) / cosines.std(),
                               atol=1e-5)
    assert path.path_rows.numpy().tolist() == [0, 3, 4, 1] and path.path_cold.numpy() == 3  # cold, then few


def test_cold_items_are_a_mixture_component_anchored_to_the_trained_items():
    """A cold item's logit: log prior + the trained items' log-mean-exp logit + its own log weight among the cold
    items less theirs, whatever the level of the towers' scores of cold items."""
    rng = np.random.default_rng(3)
    text = rng.normal(size=(6, 4))
    buckets = np.array([2, 2, 1, 0, 0, 0])
    temperature, sharpness, towers_weight, log_prior = 0.5, 1.5, 0.75, -0.3
    path = ContentPath(text, buckets, cold=(1.0, sharpness, towers_weight, log_prior), temperature=temperature)
    rows, present = tf.constant([[0, 2]], tf.int64), tf.constant([[True, True]])
    affinity = path.affinities(rows, present)
    towers = rng.normal(size=(1, 6)).astype(np.float32)
    scores = path.apply(tf.constant(towers), rows, present).numpy()[0]
    logits = towers[0] / temperature
    within = sharpness * affinity.numpy()[0] + towers_weight * logits

    def log_mean_exp(values):
        return np.log(np.mean(np.exp(values)))

    expected = log_prior + log_mean_exp(logits[:3]) + within[3:] - log_mean_exp(within[3:])
    np.testing.assert_allclose(scores[3:], temperature * expected, atol=1e-5)
    np.testing.assert_allclose(scores[:3], towers[0, :3], atol=1e-6)  # trained items keep the towers' scores
    shifted = towers.copy()
    shifted[0, 3:] += 7.0  # the towers' level for cold items is not calibrated: it does not place them
    np.testing.assert_allclose(path.apply(tf.constant(shifted), rows, present).numpy()[0], scores, atol=1e-4)
    # an ablation's shorter table: the component over the rows it has
    shorter = path.apply(tf.constant(towers[:, :5]), rows, present).numpy()[0]
    np.testing.assert_allclose(shorter[:3], towers[0, :3], atol=1e-6)
    np.testing.assert_allclose(shorter[3:], temperature * (log_prior + log_mean_exp(logits[:3]) + within[3:5]
                                                           - log_mean_exp(within[3:5])), atol=1e-5)
    # a catalog of cold items alone has no trained distribution to anchor to: the towers' scores, all finite
    alone = ContentPath(text, np.zeros(6, np.int32), cold=(1.0, sharpness, towers_weight, log_prior))
    np.testing.assert_allclose(alone.apply(tf.constant(towers), rows, present).numpy(), towers, atol=1e-6)
    assert ContentPath(text, buckets).cold.numpy().tolist() == [0.0] * 4  # no component unless fitted


def test_served_scores_read_the_path_rows_alone_and_the_text_in_its_principal_directions():
    """A request scores only the rows of buckets the path changes, with the catalog's moments in closed form: the
    same scores as the whole catalog's affinities give. Fewer dimensions keep the directions the texts differ in."""
    rng = np.random.default_rng(5)
    spread = np.zeros(16)
    spread[[2, 5, 9]] = [3.0, 2.0, 1.5]
    text = rng.normal(size=(30, 16)) * (spread + 0.01) + 4.0 * np.eye(16)[0]  # a common direction and three apart
    text[7] = 0.0  # no text
    buckets = np.array([0, 1, 2] * 10)
    rows, present = tf.constant([[4, 8, 2], [5, -1, -1]], tf.int64), tf.constant([[True] * 3, [True, False, False]])
    towers = tf.constant(rng.normal(size=(2, 30)), tf.float32)
    for few_weight, cold in ((0.0, (1.0, 1.5, 0.5, -0.3)), (1.2, (0.0, 0.0, 0.0, 0.0))):
        path = ContentPath(text, buckets, weights=(0.7, few_weight), thresholds=(0.5, 1.0), half_life=1.0,
                           cold=cold, temperature=0.5)
        full = path_scores(towers, path.affinities(rows, present), tf.constant(buckets), path.weights,
                           path.thresholds, path.one_sided, path.scales, path.cold, 0.5,
                           trained_anchor(towers, tf.constant(buckets), 0.5)).numpy()
        served = path.apply(towers, rows, present).numpy()
        np.testing.assert_allclose(served, full, atol=1e-5)
        rescored = np.flatnonzero(buckets == 0) if few_weight == 0 else np.r_[np.flatnonzero(buckets == 0),
                                                                       np.flatnonzero(buckets == 1)]
        assert path.path_rows.numpy().tolist() == rescored.tolist()
        untouched = np.setdiff1d(np.arange(30), rescored)
        np.testing.assert_array_equal(served[:, untouched], towers.numpy()[:, untouched])
        assert not np.allclose(served[:, rescored], towers.numpy()[:, rescored])
    whole = ContentPath(text, buckets).affinities(rows, present)
    narrow = ContentPath(text, buckets, text_dim=4)  # the three, and the text-less row against the rest
    assert narrow.text.numpy().shape == (30, 4)
    np.testing.assert_allclose(narrow.affinities(rows, present), whole, atol=1e-3)
    assert not np.allclose(ContentPath(text, buckets, text_dim=3).affinities(rows, present), whole, atol=0.5)


class _ScriptedSlice:
    """Metrics as a known function of the path: the cold bucket gains with the component's sharpness; the few
    bucket gains with its weight, twice as much once its towers' scores are scaled down; scaled to 0.6 the warm
    ("many") targets lose a fifth, and a cold prior above 1 costs them 10% of their NDCG@10 alone."""
    distinct = np.array([500, 500, 500])

    def metrics(self, candidates, half_life, bucket=0):
        rows = []
        for point in candidates:
            cold = 0.1 + 0.01 * point.cold[0] * point.cold[1]
            few = 0.1 + 0.001 * point.weights[1] * (2.0 if point.scales[1] < 1 else 1.0)
            many = 0.5 * (0.8 if point.scales[1] < 0.7 else 1.0)
            ndcg = many * (0.9 if point.cold[0] and point.cold[3] > 1 else 1.0)
            rows.append(np.array([[cold, few, many]] * 2 + [[cold, few, ndcg]]))
        return np.stack(rows)


def test_the_fit_picks_the_best_points_within_the_warm_bound_on_every_metric():
    half_life, path, without, with_path = _fit(_ScriptedSlice(), max_warm_drop=0.02, min_targets=1)
    sharpest = max(point[0] for point in COLD_GRID)
    assert path.cold[0] == 1 and path.cold[1] == sharpest and path.cold[3] <= 1  # a larger prior costs warm NDCG@10
    assert path.scales.tolist() == [1.0, min(s for s in SCALES if s >= 0.7), 1.0]  # 0.6 would cost the warm targets
    assert path.weights[1] == 16.0 and path.weights[0] == 0.0 and half_life == HALF_LIVES[0]
    assert with_path[0, 0] > without[0, 0] and with_path[0, 1] > without[0, 1]
    assert np.all(with_path[:, 2] == without[:, 2]) and len(METRICS) == with_path.shape[0]


def _trained():
    """Warm item h is followed by h + 4 (mod 8); cold item c's text is that of warm item c % 8 with noise, so only
    text tells which cold items follow a history."""
    rng = np.random.default_rng(0)
    text = np.eye(8)[np.arange(CATALOG) % 8] + 0.05 * rng.normal(size=(CATALOG, 8))
    content = ItemContent(np.array([key(item).encode() for item in range(CATALOG)]),
                          {"text": text, "image": np.zeros((CATALOG, 1)), "audio": np.zeros((CATALOG, 1))},
                          np.array([[True, False, False]] * CATALOG))
    config = ModelConfig(embedding_dim=8, history_length=2, learning_rate=0.02, user_min_examples=1)
    tf.keras.utils.set_random_seed(0)
    model = TwoTowerModel(SIZES, config, catalog(CATALOG), content=content)
    histories = rng.integers(0, SIZES.items, 400)
    batch = features([0] * 400, ((histories + 4) % SIZES.items).tolist(), [[h] for h in histories], config)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
    model.fit(tf.data.Dataset.from_tensor_slices(batch).batch(40), epochs=10, verbose=0)
    return model, config


def test_fit_weights_cold_items_by_text_where_it_pays_and_keeps_the_warm_targets():
    model, config = _trained()
    warm = list(range(SIZES.items))
    cold = list(range(SIZES.items, CATALOG))
    examples = features([0] * (len(warm) + len(cold)), [(h + 4) % 8 for h in warm] + cold,
                        [[h] for h in warm] + [[c % 8] for c in cold], config)
    counts = np.array([50] * SIZES.items + [0] * len(cold))
    batches = tf.data.Dataset.from_tensor_slices(examples).batch(16)
    path, report = fit_content_path(model, batches, counts, 0.0, min_targets=len(cold))
    assert report["cold_component"] is not None and report["half_life"] in HALF_LIVES and report["cold_read"] == "both"
    assert tuple(report["cold_component"].values()) in COLD_GRID
    assert set(report["scales"].values()) <= {1.0, *SCALES} and report["scales"]["many"] == 1.0
    assert report["with"]["cold"] > report["without"]["cold"]
    for metric in ("", "_recall@50", "_ndcg@10"):  # the warm targets' bound holds on every metric
        assert report["with" + metric]["many"] >= report["without" + metric]["many"]
    assert path.buckets.numpy().tolist() == interaction_buckets(counts).tolist()
    assert report["rescored_items"] == len(path.path_rows.numpy()) >= len(cold)  # every cold item at least
    rows, present = tf.constant([[0]], tf.int64), tf.constant([[True]])
    scores = path.apply(tf.zeros([1, CATALOG]), rows, present)  # as the served index reads it
    assert scores.dtype == tf.float32 and scores.shape == (1, CATALOG) and np.all(np.isfinite(scores.numpy()))
    assert path.cold.numpy().tolist() == [1.0, *report["cold_component"].values()]
    assert path.temperature.numpy() == config.temperature
    assert "cold: component of sharpness" in describe(report) and "a request rescores" in describe(report)
    # Fewer cold targets than the fit asks for (there are not that many examples): the bucket is not fitted.
    _, report = fit_content_path(model, batches, counts, 0.0, min_targets=len(warm) + len(cold) + 1)
    assert report["cold_component"] is None and report["with"] == report["without"]


def test_the_fit_ranks_each_candidate_as_the_served_scores_rank_it():
    """The fit scores one bucket's items per candidate and looks the other items up in their sorted scores: each
    target's rank must be the one the served path's scores give it, in every fold."""
    model, config = _trained()
    cold = list(range(SIZES.items, CATALOG))
    # the last two histories hold a never-trained item no example targets: left out of the fit's catalog, its text
    # still counts in the history, as served
    examples = features([0] * 26, [(h + 4) % 8 for h in range(8)] * 2 + cold[:8] + [4, 5],
                        [[h] for h in range(8)] * 2 + [[c % 8] for c in cold[:8]] + [[cold[8]], [cold[9]]], config)
    counts = np.array([50, 3] * (SIZES.items // 2) + [0] * len(cold))  # many, few and cold items
    text = _text(model)
    folds = cold_folds(model.catalog.features[P.ITEM_KEY], interaction_buckets(counts))
    slice_ = validation_slice(model, tf.data.Dataset.from_tensor_slices(examples).batch(10), counts, text, folds)
    # the never-trained items no example targets are left out, the targeted ones kept as cold
    assert slice_.absent == len(cold) - 8 and slice_.size == CATALOG - slice_.absent
    real_cold = [int((buckets == 0).sum() - (folds == fold).sum()) for fold, (_, buckets) in enumerate(slice_.folds)]
    assert real_cold == [8] * 10
    served = ContentPath(text.numpy(), interaction_buckets(counts))  # the whole catalog's text basis and moments
    kept = np.flatnonzero((interaction_buckets(counts) > 0) | np.isin(np.arange(CATALOG), cold[:8]))
    with_cold = _candidates(_no_path(), 0, (1.0,))[::23]
    for bucket, candidates in ((0, [_no_path(), *with_cold]), (1, _candidates(with_cold[2], 1, SCALES)[::31])):
        expected = np.zeros((len(candidates), len(METRICS), 3))
        for number, point in enumerate(candidates):
            for queries, rows, fit_rows, present, targets, known in slice_.batches:
                affinity = tf.gather(served.affinities(rows, present, 1.0), kept, axis=1)
                for fold_queries, (table, buckets) in zip(queries, slice_.folds):
                    towers = tf.matmul(fold_queries, table, transpose_b=True)
                    scores = path_scores(towers, affinity, buckets, *slice_._values(point), config.temperature,
                                         trained_anchor(towers, buckets, config.temperature))
                    ranks = target_ranks(scores, targets, excluded_mask(fit_rows, slice_.size)).numpy()[known]
                    of = buckets[targets.numpy()[known]]
                    for metric, gain in enumerate([ranks < 10, ranks < 50, (ranks < 10) / np.log2(ranks + 2.0)]):
                        np.add.at(expected[number, metric], of, gain)
        metrics = slice_.metrics(candidates, 1.0, bucket)
        np.testing.assert_allclose(metrics, expected / np.maximum(slice_.totals, 1), atol=1e-6)
        assert np.ptp(metrics[:, :, bucket], axis=0).max() > 0  # the candidates rank the bucket's targets apart


def test_simulated_cold_items_read_none_of_their_own_words():
    """As an unseen item's: a word no other trained item has reads as the OOV word, a shared word as itself."""
    model, _ = _trained()
    counts = np.array([50] * SIZES.items + [0] * (CATALOG - SIZES.items))
    simulated = np.arange(CATALOG) == 7  # item 7's words: 7 (item 4 has it too) and 10 (its own)
    tokens = model.catalog.features[P.TOKEN_INDICES].numpy()

    def read(words):
        tokens[7] = words
        model.catalog.features[P.TOKEN_INDICES] = tf.constant(tokens)
        return cold_read(model, simulated, counts).numpy()

    own = read([7, 10])
    np.testing.assert_allclose(read([7, 15]), own, atol=1e-6)  # another word of its own: the same read
    assert not np.allclose(read([4, 10]), own, atol=1e-4)  # another shared word: another read
    assert not np.allclose(cold_read(model, simulated, counts, content=True), read([4, 10]), atol=1e-4)  # its text


def test_no_text_read_means_no_path():
    model, _ = _trained()
    model.candidate_tower.modality_keep.assign([False, False, False])
    path, report = fit_content_path(model, None, np.zeros(CATALOG), 0.02)
    assert path is None and "off" in report
