"""The Trainer's validation slice: the latest training example of a stable sample of users, the same batched and one
at a time, and Recall@10 scored on it as the evaluation ranks."""
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import validation
from avrec.models.optimizer import LazyAdam
from avrec.models.retrieval import TwoTowerModel
from tests.support.towers import SIZES, catalog, features


def test_the_slice_is_the_latest_examples_of_a_stable_share_of_users():
    config = ModelConfig(history_length=3)
    rng = np.random.default_rng(0)
    users, items = np.arange(2000) % 400, rng.integers(0, 8, 2000)
    latest = (np.arange(2000) >= 1600).astype(int)  # each user's last example
    histories = [rng.integers(0, 8, rng.integers(0, 4)).tolist() for _ in range(2000)]
    batch = features(users.tolist(), items.tolist(), histories, config, latest=latest.tolist())
    assert validation.user_share(400, 100) == 0.25 and validation.user_share(50, 100) == 1.0
    mask = validation.held_out(batch, 0.25).numpy()
    assert not mask[latest == 0].any() and 0.15 < mask[latest == 1].mean() < 0.35
    np.testing.assert_array_equal(mask, validation.held_out(batch, 0.25).numpy())  # stable
    dense = {name: value for name, value in batch.items() if not isinstance(value, tf.SparseTensor)}
    examples = tf.data.Dataset.from_tensor_slices(dense).batch(64)
    train, held = (list(validation.part(examples, 0.25, batch_size=64, held=held)) for held in (False, True))
    held_items = np.concatenate([b["item_index"].numpy() for b in held])
    train_items = np.concatenate([b["item_index"].numpy() for b in train])
    np.testing.assert_array_equal(held_items, items[mask])  # one at a time agrees with batched, in order
    np.testing.assert_array_equal(train_items, items[~mask])
    assert [len(b["item_index"]) for b in held[:-1]] == [64] * (len(held) - 1)  # the slice is rebatched
    assert all(0 < len(b["item_index"]) <= 64 for b in train) and len(train) == 2000 // 64 + 1


def test_recall_at_10_excludes_the_history_and_counts_ties_against_the_target():
    config = ModelConfig(embedding_dim=4, history_length=3)
    model = TwoTowerModel(SIZES, config, catalog(12))
    model.item_table()  # builds the towers
    for layer in (model.candidate_tower.item_embedding, model.candidate_tower.side):
        layer.set_weights([np.zeros_like(weight) for weight in layer.get_weights()])  # every item scores the same
    examples = tf.data.Dataset.from_tensors(features([0, 1], [3, 4], [[1], list(range(11))], config))
    # All 12 items tie: the target ranks after every other non-excluded item; 11 history items leave only the target.
    assert validation.recall_at_10(model, examples) == 0.5


def test_an_epoch_without_gain_lowers_the_learning_rate_and_patience_such_epochs_stop_training():
    def rates_until_stopped(config, recalls):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        model.build([None, 2])
        model.compile(optimizer=LazyAdam(learning_rate=1e-3), loss="mse")
        callbacks = validation.stopping(None, config, restore_best=True)
        assert isinstance(callbacks[0], validation.ValidationRecall)  # it writes the score the others read
        rates = []
        for callback in callbacks[1:]:
            callback.set_model(model)
            callback.on_train_begin()
        for epoch, recall in enumerate(recalls):
            rates.append(float(tf.keras.backend.get_value(model.optimizer.learning_rate)))
            for callback in callbacks[1:]:
                callback.on_epoch_end(epoch, {validation.MONITOR: recall})
            if model.stop_training:
                break
        return rates

    recalls = [0.1, 0.2, 0.15, 0.25, 0.2, 0.2, 0.3]  # the last is never reached: two epochs without gain stop
    np.testing.assert_allclose(rates_until_stopped(ModelConfig(patience=2), recalls),
                               [1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])
    np.testing.assert_allclose(rates_until_stopped(ModelConfig(patience=2, plateau_lr_factor=1.0), recalls),
                               [1e-3] * 6)


def test_the_last_epoch_is_kept_unless_the_best_beats_it_on_the_slice_by_more_than_chance():
    def kept(best_only: int, last_only: int, restore_best: bool = True) -> tuple[int, float]:
        """(kept epoch, the kept weights' value) after three epochs on a 2,000-example slice: the first scores best,
        hitting `best_only` examples the last misses; the last hits `last_only` the first misses; 200 are hit by
        every epoch. Epoch n's weights are all n - 1."""
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        model.build([None, 2])
        scores = validation.ValidationRecall(None)
        stop = validation.StopAndKeep(scores, patience=2, restore_best=restore_best)
        stop.set_model(model)
        stop.on_train_begin()
        common = np.arange(2000) < 200
        first, last = common.copy(), common.copy()
        first[200:200 + best_only] = True
        last[1000:1000 + last_only] = True
        for epoch, hits in enumerate([first, common, last]):
            model.set_weights([np.full(weight.shape, float(epoch)) for weight in model.get_weights()])
            scores.hits = hits
            stop.on_epoch_end(epoch, {validation.MONITOR: float(hits.mean())})
        assert model.stop_training  # two epochs without gain
        stop.on_train_end()
        return stop.kept_epoch, float(model.get_weights()[0][0, 0])

    assert kept(best_only=13, last_only=10) == (3, 2.0)  # 3 hits ahead among 23 that differ: chance (z = 0.63)
    assert kept(best_only=40, last_only=10) == (1, 0.0)  # 30 ahead among 50 (z = 4.2): the best epoch's weights
    assert kept(best_only=40, last_only=10, restore_best=False) == (3, 2.0)  # a Tuner trial keeps what it has
    # Two hits to none differ in 2 examples: z = 1.41, chance.
    assert validation.beats_by_more_than_chance(np.array([True, True]), np.array([False, False])) is False
    # Three examples read twice, each read a hit against a miss: three observations (z = 6 / sqrt(12) = 1.73), not
    # six (which would give z = 2.45).
    both_reads = np.ones((2, 3), bool)
    assert validation.beats_by_more_than_chance(both_reads, ~both_reads) is False
    assert validation.beats_by_more_than_chance(np.ones((2, 5), bool), np.zeros((2, 5), bool)) is True  # z = 2.24
