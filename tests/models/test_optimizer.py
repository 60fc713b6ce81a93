"""LazyAdam: Adam's update on the rows a sparse gradient touches, nothing on the others."""
import numpy as np
import tensorflow as tf

from avrec.models.optimizer import LazyAdam


def _sparse(rows, values, shape):
    return tf.IndexedSlices(tf.constant(values, tf.float32), tf.constant(rows, tf.int64), tf.constant(shape, tf.int64))


def _step(optimizer, variable, gradient) -> np.ndarray:
    optimizer.apply_gradients([(gradient, variable)])
    return variable.numpy().copy()


def test_touched_rows_move_as_adam_moves_them_and_untouched_rows_stay():
    start = np.arange(12, dtype=np.float32).reshape(4, 3)
    lazy, dense = tf.Variable(start), tf.Variable(start)
    lazy_adam, adam = LazyAdam(0.1), tf.keras.optimizers.Adam(0.1)
    # Row 0 twice: its gradients are summed, as the dense gradient holds them.
    first = _sparse([0, 2, 0], [[1, 1, 1], [2, 0, -2], [1, -1, 0]], [4, 3])
    after_first = _step(lazy_adam, lazy, first)
    np.testing.assert_allclose(after_first, _step(adam, dense, tf.convert_to_tensor(first)), rtol=1e-6)
    assert not np.allclose(after_first[[0, 2]], start[[0, 2]])
    second = _sparse([2], [[1, 1, 1]], [4, 3])
    after_lazy, after_dense = _step(lazy_adam, lazy, second), _step(adam, dense, tf.convert_to_tensor(second))
    np.testing.assert_array_equal(after_lazy[[0, 1, 3]], after_first[[0, 1, 3]])  # untouched: not one write
    assert not np.allclose(after_dense[0], after_first[0])  # Adam's momentum moves row 0 again
    np.testing.assert_allclose(after_lazy[2], after_dense[2], rtol=1e-6)  # touched at every step: Adam's update


def test_dense_gradients_get_adams_update():
    lazy, dense = tf.Variable([1.0, -2.0]), tf.Variable([1.0, -2.0])
    lazy_adam, adam = LazyAdam(0.1), tf.keras.optimizers.Adam(0.1)
    for gradient in ([0.5, 1.0], [-1.0, 2.0]):
        np.testing.assert_allclose(_step(lazy_adam, lazy, tf.constant(gradient)),
                                   _step(adam, dense, tf.constant(gradient)), rtol=1e-6)
