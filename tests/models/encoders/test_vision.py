"""MobileNetV2 as TF-Hub image feature vector and classifier: parity with torchvision."""
import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from avrec.models.encoders.embedders import load_image_embedder
from tests.support.encoders import FIXTURES, cosine as _cosine


@pytest.fixture(scope="module")
def photos():
    reference = np.load(FIXTURES / "vision.npz")
    pixels = np.stack([tf.io.decode_png(tf.io.read_file(str(FIXTURES / f"{name}.png"))).numpy()
                       for name in reference["photos"]])
    return reference, pixels


def test_vision_top1_and_features_match_torchvision(encoders, photos):
    reference, pixels = photos
    images = pixels.astype(np.float32) / 255.0
    logits = hub.KerasLayer(encoders.image_classifier)(images).numpy()
    assert logits.shape == (len(pixels), 1000)
    np.testing.assert_array_equal(logits.argmax(1), reference["top1"])
    features = hub.KerasLayer(encoders.image_feature_vector)(images).numpy()
    assert features.shape == (len(pixels), 1280)
    assert _cosine(features, reference["features"]).min() >= 0.999

    embedder = load_image_embedder(encoders.image_feature_vector)
    np.testing.assert_allclose(embedder(pixels).numpy(), features, atol=1e-4)  # uint8 in, same vectors
    # Other sizes are resized to 224 first; an upscaled photo still yields a close vector.
    upscaled = tf.image.resize(images[:1], [320, 320]).numpy()
    assert _cosine(embedder(upscaled).numpy(), reference["features"][:1])[0] > 0.9
