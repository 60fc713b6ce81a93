"""Transforms, towers, loss, ranking metrics and baselines on small real computations."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.baselines import baseline_ranks
from avrec.models.layers import IdDropout, MeanPooledEmbedding
from avrec.models.metrics import NdcgAtK, RecallAtK, excluded_mask, ranking_metrics, target_ranks
from avrec.models.retrieval import TwoTowerModel, sampling_probabilities
from avrec.models.towers import VocabularySizes

SIZES = VocabularySizes(users=5, items=8, genres=3, tokens=20)


def features(users, items, histories, config):
    return {
        P.USER_INDEX: tf.constant(users, tf.int64),
        P.ITEM_INDEX: tf.constant(items, tf.int64),
        P.HISTORY_INDICES: P.last_n(tf.ragged.constant(histories, dtype=tf.int64, ragged_rank=1)
                                    if any(histories) else tf.RaggedTensor.from_row_lengths(
                                        tf.zeros([0], tf.int64), [0] * len(users)),
                                    config.history_length, P.HISTORY_PAD),
        P.GENRE_INDICES: tf.sparse.from_dense(tf.constant([[1, 0]] * len(items), tf.int64)),
        P.TOKEN_INDICES: tf.ragged.constant([[i % 20, (i + 3) % 20] for i in items], tf.int64).to_sparse(),
    }


def test_normalize_text_is_unicode_aware():
    text = tf.constant(["Amélie (2001)", "CRAZY, Stupid... LOVE!", "千と千尋の神隠し"])
    assert P.normalize_text(text).numpy().tolist() == [
        "amélie 2001".encode(), b"crazy stupid love", "千と千尋の神隠し".encode()]


def test_last_n_keeps_the_most_recent_items_and_pads_on_the_right():
    ids = tf.ragged.constant([[1, 2, 3, 4], [5], []], dtype=tf.int64)
    assert P.last_n(ids, 3, -1).numpy().tolist() == [[2, 3, 4], [5, -1, -1], [-1, -1, -1]]


def test_preprocessing_fn_builds_vocabularies_with_oov_on_real_beam(tmp_path):
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = {"user_id": tf.io.FixedLenFeature([1], tf.string), "item_id": tf.io.FixedLenFeature([1], tf.string),
            "history": tf.io.VarLenFeature(tf.string), "title": tf.io.FixedLenFeature([1], tf.string),
            "genres": tf.io.VarLenFeature(tf.string), "text": tf.io.FixedLenFeature([1], tf.string)}
    rows = [{"user_id": [b"u1"], "item_id": [b"i1"], "history": [], "title": [b"Toy Story (1995)"],
             "genres": [b"Comedy"], "text": [b"pixar"]},
            {"user_id": [b"u1"], "item_id": [b"i2"], "history": [b"i1", b"zz"], "title": [b"Heat"],
             "genres": [b"Action", b"Crime"], "text": [b""]}]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    config = {"model": ModelConfig(history_length=3).to_dict()}
    with tft_beam.Context(temp_dir=str(tmp_path), force_tf_compat_v1=False):
        (transformed, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: P.preprocessing_fn(inputs, config))
    second = transformed[1]
    # Two items in the vocabulary; "zz" is unseen and lands in the OOV bucket (index 2).
    assert second[P.HISTORY_INDICES].tolist() == [transformed[0][P.ITEM_INDEX], 2, P.HISTORY_PAD]
    assert len(second[P.GENRE_INDICES]) == 2 and len(transformed[0][P.TOKEN_INDICES]) == 5  # toy story 1995 comedy pixar


def test_mean_pooled_embedding_ignores_padding_and_pools_empty_rows_to_zero():
    table = tf.keras.layers.Embedding(4, 2, embeddings_initializer=tf.constant_initializer(
        [[1, 1], [3, 3], [5, 7], [0, 0]]))
    pooled = MeanPooledEmbedding(table, padding=-1)(tf.constant([[0, 2, -1], [-1, -1, -1]], tf.int64))
    np.testing.assert_allclose(pooled.numpy(), [[3, 4], [0, 0]])


def test_id_dropout_only_in_training():
    ids = tf.range(10000, dtype=tf.int64)
    layer = IdDropout(0.3, oov_index=-7, seed=1)
    assert tf.reduce_all(layer(ids, training=False) == ids)
    dropped = float(tf.reduce_mean(tf.cast(layer(ids, training=True) == -7, tf.float32)))
    assert 0.27 < dropped < 0.33


def test_towers_give_unit_embeddings_and_history_changes_the_query():
    config = ModelConfig(embedding_dim=8, history_length=3)
    model = TwoTowerModel(SIZES, config)
    batch = features([0, 0], [1, 2], [[], [3, 4]], config)
    queries = model.query_tower(batch, training=False).numpy()
    items = model.candidate_tower(batch, training=False).numpy()
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1, atol=1e-5)
    assert not np.allclose(queries[0], queries[1])  # same user, different history
    assert model.query_tower.item_embedding is model.candidate_tower.item_embedding


def test_logq_correction_changes_the_loss_and_training_learns_the_pairing():
    config = ModelConfig(embedding_dim=16, history_length=2, temperature=0.1, learning_rate=0.05, id_dropout=0.0)
    users = np.repeat(np.arange(5), 40)
    items = users + 1  # each user always picks one item
    batch = features(users.tolist(), items.tolist(), [[]] * len(users), config)
    probabilities = sampling_probabilities(np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]), SIZES.items + 1)
    with_logq = TwoTowerModel(SIZES, config, probabilities)
    without = TwoTowerModel(SIZES, config.__class__(**{**config.to_dict(), "logq_correction": False}), probabilities)
    with_logq.compute_loss(batch), without.compute_loss(batch)  # builds both
    without.set_weights(with_logq.get_weights())
    assert float(with_logq.compute_loss(batch)) != pytest.approx(float(without.compute_loss(batch)))

    model = TwoTowerModel(SIZES, config)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
    data = tf.data.Dataset.from_tensor_slices(batch).shuffle(200, seed=0).batch(10)
    before = model.evaluate(data, return_dict=True, verbose=0)["loss"]
    model.fit(data, epochs=15, verbose=0)
    after = model.evaluate(data, return_dict=True, verbose=0)["loss"]
    assert after < 0.5 * before
    scores = model.query_tower(batch) @ tf.transpose(model.candidate_tower(features(
        [0] * 6, list(range(1, 7)), [[]] * 6, config)))
    assert (tf.argmax(scores, axis=1).numpy()[::40] == np.arange(5)).all()


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


def test_baselines_rank_by_popularity_and_by_cosine_neighbours():
    catalog = np.array([b"a", b"b", b"c", b"d"])
    # Training: a is the most popular; c and d are always watched together.
    train_users = np.array([b"1", b"2", b"3", b"1", b"4", b"4", b"5", b"5"])
    train_items = np.array([b"a", b"a", b"a", b"b", b"c", b"d", b"c", b"d"])
    ranks = baseline_ranks(train_users, train_items, np.array([b"d", b"a"]), [[b"c"], [b"b"]], catalog,
                           item_text=np.array([[1, 0], [0, 1], [1, 1], [1, 0.1]], np.float32))
    # popularity order a(3) > c(2) = d(2) > b(1); c is excluded for the first example (its history).
    assert ranks["popularity"].tolist() == [1.0, 0.0]
    # d's only neighbour is c, which is in the history: d ranks first; a shares user 1 with b: first too.
    assert ranks["itemknn"].tolist() == [0.0, 0.0]
    # content-only: the history's text points at c's text; d = (1, 0.1) is closest after c (excluded): first.
    assert ranks["content_only"].tolist() == [0.0, 2.0]  # a = (1, 0) is orthogonal to history b: c and d beat it
    assert set(ranks["random"].tolist()) <= {0.0, 1.0, 2.0}


def test_gated_fusion_ignores_absent_modalities():
    from avrec.models.fusion import GatedFusion

    fusion = GatedFusion(4, num_modalities=3)
    a, b = tf.random.normal([2, 5], seed=1), tf.random.normal([2, 6], seed=2)
    present = tf.constant([[True, True, False], [True, False, False]])
    fused = fusion([a, b, tf.random.normal([2, 7], seed=3)], present)
    # Changing an absent modality changes nothing; changing a present one does.
    same = fusion([a, b, tf.random.normal([2, 7], seed=4)], present)
    np.testing.assert_allclose(fused.numpy(), same.numpy(), atol=1e-6)
    other = fusion([a, b * 2, tf.zeros([2, 7])], present).numpy()
    assert not np.allclose(other[0], fused[0]) and np.allclose(other[1], fused[1], atol=1e-6)


def test_alpha_fusion_weights_text_and_vision_and_falls_back_to_the_one_present():
    from avrec.models.fusion import AlphaFusion

    fusion = AlphaFusion(3, alpha=0.75)
    text, vision = tf.ones([3, 2]), -tf.ones([3, 4])
    out = fusion(text, vision, tf.constant([True, True, False]), tf.constant([True, False, True])).numpy()
    t, v = fusion.text(text).numpy()[0], fusion.vision(vision).numpy()[0]
    np.testing.assert_allclose(out, [0.75 * t + 0.25 * v, t, v], rtol=1e-5, atol=1e-6)


def test_modality_dropout_hides_only_present_modalities_in_training():
    from avrec.models.fusion import ModalityDropout

    present = tf.constant([[True, False, True]] * 5000)
    layer = ModalityDropout(0.2, seed=3)
    assert tf.reduce_all(layer(present, training=False) == present)
    dropped = layer(present, training=True).numpy()
    assert not dropped[:, 1].any() and 0.75 < dropped[:, 0].mean() < 0.85


def test_item_content_lookup_and_upsert():
    from avrec.models.item_content import ItemContent, content_text

    content = ItemContent(np.array([b"a", b"b"]), {"text": np.eye(2, 3), "image": np.ones((2, 4)),
                                                    "audio": np.zeros((2, 1))},
                          np.array([[True, True, False], [True, False, False]]))
    vectors, present = content(tf.constant(["b", "zz"]))
    assert present.numpy().tolist() == [[True, False, False], [False, False, False]]
    np.testing.assert_allclose(vectors["text"].numpy(), [[0, 1, 0], [0, 0, 0]])
    content.upsert(tf.constant(["zz", "a"]), tf.constant([[1.0, 1, 1], [2, 2, 2]]))
    vectors, present = content(tf.constant(["a", "zz"]))
    np.testing.assert_allclose(vectors["text"].numpy(), [[2, 2, 2], [1, 1, 1]])
    assert present.numpy().tolist() == [[True, True, False], [True, False, False]]  # a keeps its image
    from avrec.content import item_text

    text = content_text(tf.constant(["Heat", "Up"]), tf.constant([["Action", "Crime"], ["", ""]]),
                        tf.constant(["heist", ""]))
    assert [t.decode() for t in text.numpy()] == [item_text("Heat", ["Action", "Crime"], "heist"),
                                                    item_text("Up", [], "")] == ["Heat. Action, Crime. heist", "Up"]


def test_content_fused_candidate_tower_uses_the_pretrained_vectors():
    from avrec.models.item_content import ItemContent

    config = ModelConfig(embedding_dim=8, history_length=2)
    rng = np.random.default_rng(0)
    content = ItemContent(np.array([b"x", b"y"]), {"text": rng.normal(size=(2, 5)), "image": rng.normal(size=(2, 6)),
                                                    "audio": np.zeros((2, 3))},
                          np.array([[True, True, False], [True, False, False]]))
    for fusion in ("gated", "alpha"):
        model = TwoTowerModel(SIZES, ModelConfig(**{**config.to_dict(), "fusion": fusion}), content=content)
        batch = features([0, 0], [SIZES.items, SIZES.items], [[], []], config)  # both OOV ids, same categories
        batch[P.ITEM_KEY] = tf.constant(["x", "y"])
        items = model.candidate_tower(batch, training=False).numpy()
        assert not np.allclose(items[0], items[1])  # told apart by content alone


def test_text_encoder_fine_tuning_updates_its_weights_end_to_end(handles):
    from avrec.models.encoders import load_text_embedder
    from avrec.models.item_content import ItemContent

    config = ModelConfig(embedding_dim=8, history_length=2, finetune_text=True, modality_dropout=0.0)
    content = ItemContent(np.array([b"x"]), {"text": np.zeros((1, 384)), "image": np.zeros((1, 0)),
                                             "audio": np.zeros((1, 0))}, np.array([[False, False, False]]))
    encoder = load_text_embedder(handles.text_encoder, handles.text_preprocessor, seq_length=16, trainable=True)
    model = TwoTowerModel(SIZES, config, content=content, text_encoder=encoder)
    batch = features([0, 1, 2], [1, 2, 3], [[], [], []], config)
    batch[P.ITEM_KEY] = tf.constant(["x", "y", "z"])
    batch[P.ITEM_TEXT] = tf.constant(["Toy Story. Animation", "Heat. Crime", "Alien. Horror, Sci-Fi"])
    before = encoder(batch[P.ITEM_TEXT]).numpy()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5))
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    tower_weights = {v.ref() for v in model.candidate_tower.trainable_variables}
    assert encoder.trainable_variables and all(v.ref() in tower_weights for v in encoder.trainable_variables)
    assert not np.allclose(encoder(batch[P.ITEM_TEXT]).numpy(), before)
