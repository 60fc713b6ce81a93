"""The two towers and the retrieval loss: unit embeddings, shared item table, log-Q correction, learning."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel, sampling_probabilities
from tests.support.towers import SIZES, features


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
    probabilities = sampling_probabilities(np.bincount([1, 1, 1, 1, 1, 1, 2, 3, 4, 5], minlength=SIZES.items + 1))
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


def test_content_fused_candidate_tower_uses_the_pretrained_vectors():
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


def test_text_encoder_fine_tuning_updates_its_weights_end_to_end(encoders):
    config = ModelConfig(embedding_dim=8, history_length=2, finetune_text=True, modality_dropout=0.0)
    content = ItemContent(np.array([b"x"]), {"text": np.zeros((1, 384)), "image": np.zeros((1, 0)),
                                             "audio": np.zeros((1, 0))}, np.array([[False, False, False]]))
    encoder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, seq_length=16, trainable=True)
    model = TwoTowerModel(SIZES, config, content=content, text_encoder=encoder)
    batch = features([0, 1, 2], [1, 2, 3], [[], [], []], config)
    batch[P.ITEM_KEY] = tf.constant(["x", "y", "z"])
    batch[P.ENCODER_TEXT] = tf.constant(["Toy Story. Animation", "Heat. Crime", "Alien. Horror, Sci-Fi"])
    before = encoder(batch[P.ENCODER_TEXT]).numpy()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5))
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    tower_weights = {v.ref() for v in model.candidate_tower.trainable_variables}
    assert encoder.trainable_variables and all(v.ref() in tower_weights for v in encoder.trainable_variables)
    assert not np.allclose(encoder(batch[P.ENCODER_TEXT]).numpy(), before)


def _order_task(config):
    """Same user, same items, same latest item: only the order of the two earlier items tells the target."""
    batch = features([0] * 40, [5, 6] * 20, [[1, 2, 3], [2, 1, 3]] * 20, config)
    probe = features([0, 0], [5, 6], [[1, 2, 3], [2, 1, 3]], config)
    return batch, probe


def test_attention_user_tower_reads_the_order_of_the_history_where_the_mean_cannot():
    base = dict(embedding_dim=16, history_length=3, learning_rate=0.02, id_dropout=0.0, attention_dropout=0.0,
                loss="in_batch", logq_correction=False)
    for tower, learns in (("mean", False), ("attention", True)):
        config = ModelConfig(**base, user_tower=tower)
        tf.keras.utils.set_random_seed(0)
        model = TwoTowerModel(SIZES, config)
        batch, probe = _order_task(config)
        model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
        model.fit(tf.data.Dataset.from_tensor_slices(batch).batch(8), epochs=30, verbose=0)
        queries = model.query_tower(probe).numpy()
        items = model.candidate_tower(features([0, 0], [5, 6], [[], []], config)).numpy()
        assert np.allclose(queries[0], queries[1], atol=1e-6) != learns
        if learns:
            assert (np.argmax(queries @ items.T, axis=1) == [0, 1]).all()


def test_full_softmax_scores_each_target_against_every_catalog_item():
    config = ModelConfig(embedding_dim=8, history_length=2, id_dropout=0.0, temperature=0.5)
    catalog = features([0] * 8, list(range(8)), [[]] * 8, config)
    model = TwoTowerModel(SIZES, config, catalog=catalog)
    batch = features([0, 1], [2, 7], [[1], [3, 4]], config)
    queries = model.query_tower(batch).numpy()
    candidates = model.candidate_tower(catalog).numpy()
    logits = queries @ candidates.T / config.temperature
    expected = np.mean([np.log(np.exp(row).sum()) - row[target] for row, target in zip(logits, [2, 7])])
    assert float(model.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)
    assert ModelConfig().uses_full_softmax(50000) and not ModelConfig().uses_full_softmax(50001)
    assert not ModelConfig(finetune_text=True).uses_full_softmax(10)
