"""The content candidate path: weighted text affinity per interaction bucket, in the served index and fitted on the
validation slice."""
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models.content_path import ContentPath, interaction_buckets
from avrec.models.content_path_fit import HALF_LIVES, SCALES, TOPS, _fit, cold_read, fit_content_path
from avrec.models import preprocessing as P
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel
from tests.support.towers import SIZES, catalog, features, key

CATALOG = 40  # items SIZES.items .. CATALOG-1 are cold: never trained on


def _unit(rows):
    rows = np.asarray(rows, float)
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def test_scores_are_the_weighted_standardized_cosine_with_the_recency_weighted_history_above_a_threshold():
    assert interaction_buckets(np.array([0, 1, 5, 6])).tolist() == [0, 1, 1, 2]
    text = np.array([[1.0, 0], [0, 2.0], [3.0, 1.0], [0, 0]])
    rows, present = tf.constant([[0, 1], [3, -1]], tf.int64), tf.constant([[True, True], [True, False]])
    weights, thresholds = np.array([2.0, 0.5, 0.0, 2.0]), np.array([-0.5, 0.3, 0.0, -0.5])  # per item, by bucket
    for half_life, history_weights in ((0.0, [1.0, 1.0]), (1.0, [0.5, 1.0])):  # item 1 is the latest
        cosines = _unit(history_weights @ _unit(text[:2])) @ _unit(text).T
        affinity = (cosines - cosines.mean()) / cosines.std()  # item 3 has no text: its cosine is 0
        for one_sided in ((False, False), (False, True), (True, True)):
            path = ContentPath(text, np.array([0, 1, 2, 0]), weights=(2.0, 0.5), thresholds=(-0.5, 0.3),
                               one_sided=one_sided, half_life=half_life)
            scores = path.scores(rows, present).numpy()
            floor = np.where(np.array([*one_sided, False])[[0, 1, 2, 0]], 0.0, -np.inf)
            np.testing.assert_allclose(scores[0], weights * np.maximum(affinity - thresholds, floor), atol=1e-5)
            np.testing.assert_allclose(scores[1], weights * np.maximum(-thresholds, floor), atol=1e-6)  # no history
        assert affinity[3] < thresholds[3]  # one-sided, the text-less cold item loses nothing
    path.upsert(tf.constant([4, 1], tf.int64), tf.constant([[0.0, 5.0], [1.0, 0.0]]), tf.constant(5, tf.int64))
    assert path.buckets.numpy().tolist() == [0, 1, 2, 0, 0]  # the new row is cold, the known one keeps its bucket
    np.testing.assert_allclose(path.text.numpy()[[1, 4]], [[1.0, 0.0], [0.0, 1.0]])


def test_the_towers_scores_are_scaled_by_bucket_up_to_the_rows_scored():
    path = ContentPath(np.eye(4), np.array([0, 1, 2, 0]), scales=(0.5, 0.8))
    towers = tf.constant([[1.0, -2.0, 3.0, 4.0]])
    np.testing.assert_allclose(path.rescaled(towers).numpy(), [[0.5, -1.6, 3.0, 2.0]])
    np.testing.assert_allclose(path.rescaled(towers[:, :3]).numpy(), [[0.5, -1.6, 3.0]])  # an ablation's shorter table
    np.testing.assert_allclose(ContentPath(np.eye(4), np.array([0, 1, 2, 0])).rescaled(towers).numpy(), towers)


class _ScriptedSlice:
    """Recalls as a known function of the path: the cold bucket gains with its weight, twice as much once its towers'
    scores are scaled down; scaled to 0.6 the warm ("many") targets lose a fifth."""
    distinct = np.array([500, 0, 500])

    def recalls(self, candidates, half_life):
        rows = []
        for weights, _, _, scales in candidates:
            cold = 0.1 + 0.001 * weights[0] * (2.0 if scales[0] < 1 else 1.0)
            many = 0.5 * (0.8 if scales[0] < 0.7 else 1.0)
            rows.append(np.array([[cold, 0.0, many]] * len(TOPS)))
        return np.stack(rows)


def test_the_fit_scales_a_buckets_towers_down_where_that_pays_within_the_warm_bound():
    half_life, (weights, _, _, scales), without, with_path = _fit(_ScriptedSlice(), max_warm_drop=0.02, min_targets=1)
    assert scales.tolist() == [min(s for s in SCALES if s >= 0.7), 1.0, 1.0]  # 0.6 would cost the warm targets
    assert weights[0] == 16.0 and weights[1] == 0.0 and half_life == HALF_LIVES[0]
    assert with_path[0, 0] > without[0, 0] and with_path[0, 2] == without[0, 2]


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
    assert report["weights"]["cold"] > 0 and report["half_life"] in HALF_LIVES
    assert set(report["scales"].values()) <= {1.0, *SCALES} and report["scales"]["many"] == 1.0
    assert report["with"]["cold"] > report["without"]["cold"]
    for top in ("", "_recall@50"):  # the warm targets' bound holds at both cut-offs
        assert report["with" + top]["many"] >= report["without" + top]["many"]
    assert path.buckets.numpy().tolist() == interaction_buckets(counts).tolist()
    scores = path.scores(tf.constant([[0]], tf.int64), tf.constant([[True]]))  # as the served index adds it
    assert scores.dtype == tf.float32 and scores.shape == (1, CATALOG)
    # Fewer cold targets than the fit asks for (there are not that many examples): the bucket is not fitted.
    _, report = fit_content_path(model, batches, counts, 0.0, min_targets=len(warm) + len(cold) + 1)
    assert report["weights"]["cold"] == 0 and report["with"] == report["without"]


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


def test_no_text_read_means_no_path():
    model, _ = _trained()
    model.candidate_tower.modality_keep.assign([False, False, False])
    path, report = fit_content_path(model, None, np.zeros(CATALOG), 0.02)
    assert path is None and "off" in report
