"""Warm start's row carrying: rows follow their ids across vocabularies that reorder, grow and lose ids."""
import numpy as np
import tensorflow as tf

from avrec.models.warm_start import carry_rows


def test_rows_follow_their_ids_and_new_ids_keep_their_fresh_rows():
    old_vocab = [b"c", b"a", b"gone"]
    old = np.arange(5, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)  # 3 ids + 2 OOV rows
    new_vocab = [b"a", b"new", b"c"]
    fresh = np.full((5, 2), -1.0, np.float32)
    table = tf.Variable(fresh)

    assert carry_rows(table, old, new_vocab, old_vocab) == 2
    np.testing.assert_array_equal(table.numpy(), [[1, 1], [-1, -1], [0, 0], [3, 3], [4, 4]])


def test_oov_rows_carry_as_far_as_both_tables_have_them():
    table = tf.Variable(np.zeros((4, 1), np.float32))  # 1 id + 3 OOV rows
    old = np.array([[7], [8]], np.float32)  # 1 id + 1 OOV row
    assert carry_rows(table, old, [b"x"], [b"y"]) == 0
    np.testing.assert_array_equal(table.numpy()[:, 0], [0, 8, 0, 0])
