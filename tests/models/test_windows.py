"""Training a window at every position (ModelConfig.every_position): each target is read from the items before it,
as its own example would be, the validation slice's targets are left out, and the Trainer falls back to one target
per example where a window is longer than the history the model keeps."""
import numpy as np
import pytest
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import preprocessing as P
from avrec.models import validation
from avrec.models.retrieval import TwoTowerModel
from avrec.models.towers import history_vectors
from avrec.models.training import TrainingData
from tests.support.towers import SIZES, catalog, features


def _pair(config):
    """The same weights trained one target per example and at every position of a window."""
    example, window = (TwoTowerModel(SIZES, config, catalog(), every_position=every) for every in (False, True))
    probe = features([0], [2], [[1]], config)
    example.compute_loss(probe), window.compute_loss(probe)  # builds both
    window.set_weights(example.get_weights())
    return example, window


@pytest.mark.parametrize("tower", ["attention", "mean"])
def test_a_window_trains_each_of_its_targets_as_the_example_of_its_prefix_would(tower):
    """Every position's query is exactly its prefix's: the loss of a window is the mean loss of its targets' own
    examples, the user's first one (empty history) included, and a held target is left out."""
    config = ModelConfig(embedding_dim=8, history_length=4, user_tower=tower, id_dropout=0.0)
    example, window = _pair(config)
    windows = features([0, 1, 2], [4, 2, 6], [[1, 2, 3], [1], [5]], config, window=[3, 2, 0])
    prefixes = features([0, 0, 0, 1, 1], [2, 3, 4, 1, 2], [[1], [1, 2], [1, 2, 3], [], [1]], config)
    assert float(window.compute_loss(windows)) == pytest.approx(float(example.compute_loss(prefixes)), rel=1e-5)

    held = {**windows, P.HELD: tf.constant([True, False, False])}  # row 0's target is in the validation slice
    rest = features([0, 0, 1, 1], [2, 3, 1, 2], [[1], [1, 2], [], [1]], config)
    assert float(window.compute_loss(held)) == pytest.approx(float(example.compute_loss(rest)), rel=1e-5)


def test_attention_reads_each_position_as_the_history_ending_there():
    config = ModelConfig(embedding_dim=8, history_length=4, id_dropout=0.0)
    _, model = _pair(config)
    model.query_tower.history.blocks.attention[0].bias.assign(tf.random.normal([4, 1]))  # recency matters
    table, unknown = model.item_table()

    def reads(history):
        batch = features([0], [7], [history], config)
        rows, present = model.recent_history(batch)
        vectors = history_vectors(table, rows, present, unknown)
        return (model.query_tower.every_position(batch, vectors, present).numpy()[0],
                model.query_tower(batch, vectors, present).numpy()[0])

    every, _ = reads([1, 2, 3])
    for j in range(4):
        np.testing.assert_allclose(every[j], reads([1, 2, 3][:j])[1], atol=1e-5)  # slot j: the first j items
    changed, _ = reads([1, 2, 6])
    np.testing.assert_allclose(every[:3], changed[:3], atol=1e-6)  # slots 0-2 never see the third item
    assert not np.allclose(every[3], changed[3])


def test_in_batch_windows_learn_the_next_item():
    """Each user walks the catalog in order: every position's next item is learnable, and is learned."""
    config = ModelConfig(embedding_dim=16, history_length=4, learning_rate=0.02, id_dropout=0.0, loss="in_batch",
                         attention_dropout=0.0)
    model = TwoTowerModel(SIZES, config, catalog(), full_softmax=False, every_position=True)
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
    starts = np.arange(40) % 4
    batch = features([0] * 40, (starts + 4).tolist(), [list(range(s, s + 4)) for s in starts], config, window=[4] * 40)
    data = tf.data.Dataset.from_tensor_slices(batch).batch(8)
    before = model.evaluate(data, return_dict=True, verbose=0)["loss"]
    model.fit(data, epochs=20, verbose=0)
    assert model.evaluate(data, return_dict=True, verbose=0)["loss"] < 0.5 * before


def test_the_input_keeps_window_rows_and_marks_the_validation_slices_targets():
    config = ModelConfig(history_length=3)
    users = np.arange(200) % 50
    latest, window = (np.arange(200) >= 150).astype(int), (np.arange(200) % 3 == 0).astype(int) * 2
    window[150:] = 1  # every latest row ends a window
    batch = features(users.tolist(), (users % 8).tolist(), [[1]] * 200, config, latest=latest.tolist(),
                     window=window.tolist())
    dense = {name: value for name, value in batch.items() if not isinstance(value, tf.SparseTensor)}
    rows = list(validation.windows(tf.data.Dataset.from_tensor_slices(dense).batch(32), 0.5, per_batch=7))
    assert sum(len(b[P.WINDOW]) for b in rows) == int((window > 0).sum())
    assert all(len(b[P.WINDOW]) == 7 for b in rows[:-1]) and all((b[P.WINDOW] > 0).numpy().all() for b in rows)
    held = np.concatenate([b[P.HELD].numpy() for b in rows])
    np.testing.assert_array_equal(held, validation.held_out(batch, 0.5).numpy()[window > 0])
    assert 0 < held.sum() < 50


def test_windows_longer_than_the_kept_history_fall_back_to_one_target_per_example():
    data = TrainingData(None, None, SIZES, None, None, None, None, counts=np.ones(10, np.int64), held=0, share=0.0,
                        windows=5, widest=10)
    assert data.every_position(ModelConfig(history_length=9, batch_size=4))
    assert not data.every_position(ModelConfig(history_length=8))  # the window's first target lacks its history
    assert not data.every_position(ModelConfig(history_length=9, every_position=False))
    config = ModelConfig(history_length=9, batch_size=4)
    assert data.windows_per_batch(config) == 2 and data.steps_per_epoch(config) == 3  # 4 targets of 10 in 5 windows
    assert data.steps_per_epoch(config.replace(every_position=False)) == 3  # ceil(10 / 4)
