"""The towers' small layers."""
import numpy as np
import tensorflow as tf

from avrec.models.layers import IdDropout, MeanPooledEmbedding, recent


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


def test_recent_keeps_each_rows_last_present_ids_as_wide_as_the_longest():
    ids = tf.constant([["a", "", "b", "c"], ["", "d", "", ""], ["", "", "", ""]])
    assert recent(ids, 2, "").numpy().tolist() == [[b"b", b"c"], [b"d", b""], [b"", b""]]
    assert recent(tf.constant([["", "x"], ["", ""]]), 5, "").numpy().tolist() == [[b"x"], [b""]]
