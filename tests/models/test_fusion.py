"""Fusion of the learned and pretrained item features."""
import numpy as np
import tensorflow as tf

from avrec.models.fusion import AlphaFusion, GatedFusion, ModalityDropout


def test_gated_fusion_ignores_absent_modalities():
    fusion = GatedFusion(4, num_modalities=3)
    a, b = tf.random.normal([2, 5], seed=1), tf.random.normal([2, 6], seed=2)
    present = tf.constant([[True, True, False], [True, False, False]])
    fused = fusion([a, b, tf.random.normal([2, 7], seed=3)], present)
    # Changing an absent modality changes nothing; changing a present one does.
    same = fusion([a, b, tf.random.normal([2, 7], seed=4)], present)
    np.testing.assert_allclose(fused.numpy(), same.numpy(), atol=1e-6)
    other = fusion([a, b * 2, tf.zeros([2, 7])], present).numpy()
    assert not np.allclose(other[0], fused[0]) and np.allclose(other[1], fused[1], atol=1e-6)


def test_alpha_fusion_weights_text_and_vision_and_falls_back_to_the_one_present():
    fusion = AlphaFusion(3, alpha=0.75)
    text, vision = tf.ones([3, 2]), -tf.ones([3, 4])
    out = fusion(text, vision, tf.constant([True, True, False]), tf.constant([True, False, True])).numpy()
    t, v = fusion.text(text).numpy()[0], fusion.vision(vision).numpy()[0]
    np.testing.assert_allclose(out, [0.75 * t + 0.25 * v, t, v], rtol=1e-5, atol=1e-6)


def test_modality_dropout_hides_only_present_modalities_in_training():
    present = tf.constant([[True, False, True]] * 5000)
    layer = ModalityDropout(0.2, seed=3)
    assert tf.reduce_all(layer(present, training=False) == present)
    dropped = layer(present, training=True).numpy()
    assert not dropped[:, 1].any() and 0.75 < dropped[:, 0].mean() < 0.85
