"""The Trainer's validation slice: a stable share of the training examples, the same batched and one at a time."""
import numpy as np
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.models import validation
from tests.support.towers import features


def test_the_slice_is_a_stable_share_and_train_and_validation_partition_the_examples():
    config = ModelConfig(history_length=3)
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 5, 2000).tolist(), rng.integers(0, 8, 2000).tolist()
    histories = [rng.integers(0, 8, rng.integers(0, 4)).tolist() for _ in range(2000)]
    batch = features(users, items, histories, config)
    mask = validation.held_out(batch, 0.2).numpy()
    assert 0.1 < mask.mean() < 0.3
    np.testing.assert_array_equal(mask, validation.held_out(batch, 0.2).numpy())  # stable
    examples = tf.data.Dataset.from_tensor_slices(batch).batch(64)
    train, held = (validation.part(examples, 0.2, batch_size=64, held=held) for held in (False, True))
    held_items = np.concatenate([b["item_index"].numpy() for b in held])
    train_items = np.concatenate([b["item_index"].numpy() for b in train])
    assert len(held_items) == mask.sum() and len(train_items) == len(mask) - mask.sum()
    np.testing.assert_array_equal(held_items, np.asarray(items)[mask])  # one at a time agrees with batched
