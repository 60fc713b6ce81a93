"""How the candidate tower combines what it knows about an item: learned id and categorical embeddings and the
pretrained text, vision and audio embeddings, any of which may be missing for a given item."""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf


class ModalityDropout(tf.keras.layers.Layer):
    """In training, hides each present modality of an item with probability `rate`, so the tower learns to embed
    items that lack a modality (no cover, no audio) or an id (cold items) from what is left."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed

    def call(self, present, training=None):
        if not training or self.rate <= 0:
            return present
        keep = tf.random.uniform(tf.shape(present), seed=self.seed) >= self.rate
        return tf.logical_and(present, keep)


class GatedFusion(tf.keras.layers.Layer):
    """Projects every modality to one width and mixes them with per-item gates: a softmax over the present
    modalities of scores computed from all of them, so the weight of the text versus the cover is learned per item."""

    def __init__(self, width: int, num_modalities: int, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.projections = [tf.keras.layers.Dense(width) for _ in range(num_modalities)]
        self.gate = tf.keras.layers.Dense(num_modalities)

    def call(self, modalities: list[tf.Tensor], present: tf.Tensor):
        present_f = tf.cast(present, tf.float32)
        projected = tf.stack([project(m) for project, m in zip(self.projections, modalities)], axis=1)
        projected *= tf.expand_dims(present_f, -1)
        logits = self.gate(tf.reshape(projected, [-1, len(self.projections) * self.width]))
        weights = tf.nn.softmax(logits + (present_f - 1.0) * 1e9, axis=-1) * present_f
        return tf.reduce_sum(projected * tf.expand_dims(weights, -1), axis=1)


class AlphaFusion(tf.keras.layers.Layer):
    """Baseline: alpha * text + (1 - alpha) * vision after projection to one width (the other modalities are
    concatenated unchanged); an item missing one of the two gets the other alone."""

    def __init__(self, width: int, alpha: float, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.text = tf.keras.layers.Dense(width)
        self.vision = tf.keras.layers.Dense(width)

    def call(self, text, vision, has_text, has_vision):
        t = tf.cast(tf.expand_dims(has_text, -1), tf.float32)
        v = tf.cast(tf.expand_dims(has_vision, -1), tf.float32)
        weight_text = self.alpha * t / tf.maximum(self.alpha * t + (1 - self.alpha) * v, 1e-9)
        return weight_text * self.text(text) * t + (1 - weight_text) * self.vision(vision) * v
