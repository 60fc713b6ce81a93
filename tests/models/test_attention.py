"""The self-attention blocks read at one position per row: the same vectors as the whole computation there."""
import numpy as np
import tensorflow as tf

from avrec.models.attention import SelfAttentionBlocks, causal_mask


def test_reading_at_one_position_per_row_matches_the_whole_computation():
    blocks = SelfAttentionBlocks(dim=8, blocks=2, heads=2, dropout=0.0)
    present = tf.constant([[True, True, True, False, False], [True] * 5, [False] * 5])
    keep = tf.cast(present, tf.float32)[:, :, tf.newaxis]
    x = tf.random.stateless_normal([3, 5, 8], seed=(1, 2)) * keep
    whole = blocks(x, causal_mask(present), keep)
    read_at = tf.constant([2, 4, 0])
    np.testing.assert_allclose(blocks(x, causal_mask(present), keep, read_at=read_at),
                               tf.gather(whole, read_at, batch_dims=1), rtol=1e-5, atol=1e-6)
    # Attention is causal: a row read at an earlier position does not see what follows it.
    np.testing.assert_allclose(blocks(x, causal_mask(present), keep, read_at=tf.constant([1, 1, 0]))[1],
                               blocks(x[:, :2], causal_mask(present[:, :2]), keep[:, :2])[1, 1], rtol=1e-5, atol=1e-6)
