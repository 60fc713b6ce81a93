"""The embedders refuse bad handles and inputs with errors that name them."""
import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf

from avrec.models.encoders.embedders import load_audio_embedder, load_image_embedder, load_text_embedder
from avrec.models.encoders.errors import EncoderError


def test_bad_inputs_and_encoders_are_named(encoders, tmp_path):
    with pytest.raises(EncoderError, match="no encoder SavedModel at .*missing"):
        load_image_embedder(str(tmp_path / "missing"))
    with pytest.raises(EncoderError, match=r"RGB images \[batch, height, width, 3\]"):
        load_image_embedder(encoders.image_feature_vector)(np.zeros((1, 8, 8, 4), np.float32))
    with pytest.raises(EncoderError, match="takes strings, got int32"):
        load_text_embedder(encoders.text_encoder, encoders.text_preprocessor)(tf.constant([1, 2]))
    with pytest.raises(EncoderError, match=r"waveforms \[batch, samples\]"):
        load_audio_embedder(encoders.audio)(np.zeros(16000, np.float32))
