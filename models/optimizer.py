"""Adam that updates an embedding table's rows only where a batch's gradient touches them (as TensorFlow Addons'
LazyAdam did). Keras's Adam decays and rewrites every row of a table at every step, even for a sparse gradient, so
a step would cost the size of the user and item vocabularies, and an epoch their product with the examples."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf


class LazyAdam(tf.keras.optimizers.Adam):
    def __init__(self, learning_rate=0.001, **kwargs):
        kwargs["jit_compile"] = False  # tf.unique's output shape depends on its input: XLA cannot compile it
        super().__init__(learning_rate, **kwargs)

    def update_step(self, gradient, variable):
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        alpha = (tf.cast(self.learning_rate, dtype) * tf.sqrt(1 - tf.pow(tf.cast(self.beta_2, dtype), step))
                 / (1 - tf.pow(tf.cast(self.beta_1, dtype), step)))
        index = self._index_dict[self._var_key(variable)]
        m, v = self._momentums[index], self._velocities[index]
        rows, position = tf.unique(gradient.indices)  # a row gathered twice has its gradients summed
        values = tf.math.unsorted_segment_sum(gradient.values, position, tf.shape(rows)[0])
        m_rows = self.beta_1 * tf.gather(m, rows) + (1 - self.beta_1) * values
        v_rows = self.beta_2 * tf.gather(v, rows) + (1 - self.beta_2) * tf.square(values)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))
