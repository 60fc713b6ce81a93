"""The two towers and the retrieval losses: one vector per item, history read in order, log-Q correction, full softmax,
content fusion, pretraining mode, learning."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models.catalog_items import CatalogItems
from avrec.models.encoders.embedders import load_text_embedder
from avrec.models.item_content import ItemContent
from avrec.models.retrieval import TwoTowerModel, sampling_probabilities
from tests.support.towers import SIZES, catalog, features, item_features, key


def _model(config, items=SIZES.items, **kwargs):
    return TwoTowerModel(SIZES, config, catalog(items), **kwargs)


def _queries(model, batch):
    table, unknown = model.item_table()
    return model.queries(batch, table, unknown).numpy(), table.numpy()


def test_an_item_is_one_vector_as_candidate_and_in_a_history():
    config = ModelConfig(embedding_dim=8, history_length=3, user_tower="mean")
    model = _model(config)
    table, unknown = model.item_table()
    np.testing.assert_allclose(table.numpy(), model.candidate_tower(item_features(list(range(8)))).numpy(), atol=1e-6)
    queries, _ = _queries(model, features([0, 0, 0], [1, 1, 1], [[], [3, 4], [4, 3]], config))
    assert not np.allclose(queries[0], queries[1])  # same user, a history
    rows, present = model.recent_history(features([0], [1], [[2, 9, 4]], config))
    assert rows.numpy().tolist() == [[2, -1, 4]] and present.numpy().all()  # an id the catalog lacks: row -1


def test_logq_correction_changes_the_in_batch_loss_and_training_learns_the_pairing():
    config = ModelConfig(embedding_dim=16, history_length=2, learning_rate=0.05, id_dropout=0.0, loss="in_batch",
                         user_min_examples=1)
    users = np.repeat(np.arange(5), 40)
    batch = features(users.tolist(), (users + 1).tolist(), [[]] * len(users), config)
    probabilities = sampling_probabilities(np.bincount([1, 1, 1, 1, 1, 1, 2, 3, 4, 5], minlength=SIZES.items))
    with_logq = _model(config, item_probabilities=probabilities, full_softmax=False)
    without = _model(config.replace(logq_correction=False), item_probabilities=probabilities, full_softmax=False)
    with_logq.compute_loss(batch), without.compute_loss(batch)  # builds both
    without.set_weights(with_logq.get_weights())
    assert float(with_logq.compute_loss(batch)) != pytest.approx(float(without.compute_loss(batch)))

    model = _model(config, full_softmax=False)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
    data = tf.data.Dataset.from_tensor_slices(batch).shuffle(200, seed=0).batch(10)
    before = model.evaluate(data, return_dict=True, verbose=0)["loss"]
    model.fit(data, epochs=15, verbose=0)
    assert model.evaluate(data, return_dict=True, verbose=0)["loss"] < 0.5 * before
    queries, table = _queries(model, batch)
    assert (np.argmax(queries @ table.T, axis=1)[::40] == np.arange(5) + 1).all()


def test_full_softmax_scores_each_target_against_every_catalog_item():
    config = ModelConfig(embedding_dim=8, history_length=2, id_dropout=0.0, temperature=0.5)
    model = _model(config)
    batch = features([0, 1], [2, 7], [[1], [3, 4]], config)
    queries, table = _queries(model, batch)
    logits = queries @ table.T / config.temperature
    expected = np.mean([np.log(np.exp(row).sum()) - row[target] for row, target in zip(logits, [2, 7])])
    assert float(model.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)



def test_auto_loss_uses_full_softmax_while_catalog_times_examples_fits_the_budget():
    """A catalog's items x training examples, not its size alone: the work of a full-softmax epoch."""
    config = ModelConfig(full_softmax_budget=1_000_000)
    assert config.uses_full_softmax(1000, 1000) and not config.uses_full_softmax(1000, 1001)
    assert config.uses_full_softmax(100, 10_000) and not config.uses_full_softmax(101, 10_000)
    assert not ModelConfig(finetune_text=True).uses_full_softmax(10, 10)
    assert ModelConfig(loss="full_softmax", full_softmax_budget=1).uses_full_softmax(10, 10)
    assert not ModelConfig(loss="in_batch").uses_full_softmax(10, 10)


def test_full_softmax_takes_no_negatives_from_items_training_never_saw():
    """Cold catalog items (all sharing the unknown id) are never targets; as negatives they would teach the model to
    rank every cold item last."""
    config = ModelConfig(embedding_dim=8, history_length=2, id_dropout=0.0)
    model = _model(config, items=SIZES.items + 3)  # rows 8, 9, 10: cold
    batch = features([0, 1], [2, 7], [[1], [3, 4]], config)
    queries, table = _queries(model, batch)
    logits = queries @ table[:SIZES.items].T / config.temperature
    expected = np.mean([np.log(np.exp(row).sum()) - row[target] for row, target in zip(logits, [2, 7])])
    assert float(model.compute_loss(batch)) == pytest.approx(expected, rel=1e-5)


def _order_task(config):
    """Same user, same items, same latest item: only the order of the two earlier items tells the target."""
    batch = features([0] * 40, [5, 6] * 20, [[1, 2, 3], [2, 1, 3]] * 20, config)
    probe = features([0, 0], [5, 6], [[1, 2, 3], [2, 1, 3]], config)
    return batch, probe


def test_attention_user_tower_reads_the_order_of_the_history_where_the_mean_cannot():
    base = dict(embedding_dim=16, history_length=3, learning_rate=0.02, id_dropout=0.0, attention_dropout=0.0)
    for tower, learns in (("mean", False), ("attention", True)):
        config = ModelConfig(**base, user_tower=tower)
        tf.keras.utils.set_random_seed(0)
        model = _model(config)
        batch, probe = _order_task(config)
        model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
        model.fit(tf.data.Dataset.from_tensor_slices(batch).batch(8), epochs=30, verbose=0)
        queries, table = _queries(model, probe)
        assert np.allclose(queries[0], queries[1], atol=1e-6) != learns
        if learns:
            assert (np.argmax(queries @ table.T, axis=1) == [5, 6]).all()


def test_behaviour_only_reads_item_ids_and_history_alone():
    config = ModelConfig(embedding_dim=8, history_length=2, id_dropout=0.0)
    model = _model(config)
    batch = features([0, 1], [2, 3], [[1], [1]], config)
    queries, _ = _queries(model, batch)
    assert not np.allclose(queries[0], queries[1])  # two users, one history
    model.behaviour_only(True)
    queries, table = _queries(model, batch)
    np.testing.assert_allclose(queries[0], queries[1])  # the user id is not read
    np.testing.assert_allclose(table, model.candidate_tower.item_embedding(tf.range(8)).numpy())
    model.behaviour_only(False)
    assert not np.allclose(_queries(model, batch)[1], table)


def test_content_fused_candidate_tower_tells_cold_items_apart_by_content():
    config = ModelConfig(embedding_dim=8, history_length=2)
    rng = np.random.default_rng(0)
    content = ItemContent(np.array([key(8).encode(), key(9).encode()]),
                          {"text": rng.normal(size=(2, 5)), "image": rng.normal(size=(2, 6)), "audio": np.zeros((2, 3))},
                          np.array([[True, True, False], [True, False, False]]))
    for fusion in ("gated", "alpha"):
        model = _model(config.replace(fusion=fusion), items=10, content=content)
        cold = item_features([8, 9])  # both the OOV id
        cold[P.TOKEN_INDICES] = item_features([8, 8])[P.TOKEN_INDICES]  # the same words
        items = model.candidate_tower(cold, training=False).numpy()
        assert not np.allclose(items[0], items[1])  # told apart by content alone


def test_text_encoder_fine_tuning_updates_its_weights_end_to_end(encoders):
    config = ModelConfig(embedding_dim=8, history_length=2, finetune_text=True, modality_dropout=0.0)
    content = ItemContent(np.array([b"x"]), {"text": np.zeros((1, 384)), "image": np.zeros((1, 0)),
                                             "audio": np.zeros((1, 0))}, np.array([[False, False, False]]))
    encoder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, seq_length=16, trainable=True)
    items = item_features([0, 1, 2])
    items[P.ENCODER_TEXT] = tf.constant(["Toy Story. Animation", "Heat. Crime", "Alien. Horror, Sci-Fi"])
    model = TwoTowerModel(SIZES, config, CatalogItems(items, oov_index=SIZES.items), content=content,
                          text_encoder=encoder, full_softmax=False)
    batch = {**features([0, 1, 2], [0, 1, 2], [[], [], []], config), P.ENCODER_TEXT: items[P.ENCODER_TEXT]}
    before = encoder(items[P.ENCODER_TEXT]).numpy()
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5))
    model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)
    tower_weights = {v.ref() for v in model.candidate_tower.trainable_variables}
    assert encoder.trainable_variables and all(v.ref() in tower_weights for v in encoder.trainable_variables)
    assert not np.allclose(encoder(items[P.ENCODER_TEXT]).numpy(), before)
