"""Content embedders over TF-Hub handles: Keras layers that turn strings, images or waveforms into vectors.

They only rely on the TF-Hub interfaces (BERT preprocessor + encoder, image feature vector, our music model), so a
local conversion and a tfhub.dev/Kaggle handle are interchangeable. Being Keras layers they work eagerly on a batch
(e.g. in a Beam DoFn) and inside exported models (e.g. to encode a search query at serving time).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401  (registers the ops BERT preprocessor SavedModels use)

from avrec.config import EncoderConfig
from avrec.models.encoders.errors import EncoderError
from avrec.models.encoders.interfaces import IMAGE_SIZE


def _check_handle(handle: str) -> str:
    handle = str(handle)
    if "://" not in handle and not (Path(handle) / "saved_model.pb").is_file():
        raise EncoderError(f"no encoder SavedModel at {handle}; build the local encoders with `make setup` "
                           "(python -m avrec.models.encoders.convert.build) or give a TF-Hub handle")
    return handle


@contextlib.contextmanager
def _loading(handle: str):
    """Reports a failure to fetch or load a handle as an EncoderError naming it."""
    try:
        yield
    except (OSError, ValueError, tf.errors.OpError) as e:
        raise EncoderError(f"cannot load the encoder {handle}: {e}") from e


def _hub_layer(handle: str, **kwargs) -> hub.KerasLayer:
    with _loading(handle):
        return hub.KerasLayer(_check_handle(handle), **kwargs)


def sentence_embedding(sequence_output: tf.Tensor, input_mask: tf.Tensor) -> tf.Tensor:
    """Mean of the token vectors under input_mask, L2-normalised: all-MiniLM-L6-v2's sentence embedding."""
    mask = tf.cast(input_mask, sequence_output.dtype)[:, :, tf.newaxis]
    total = tf.reduce_sum(sequence_output * mask, axis=1)
    count = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
    return tf.math.l2_normalize(total / count, axis=-1)


class TextEmbedding(tf.keras.layers.Layer):
    """Strings [batch] -> L2-normalised sentence embeddings [batch, hidden] (384 for MiniLM-L6-H384).

    seq_length None keeps the preprocessor's default (128 for TF-Hub's); another value packs through its
    `tokenize` / `bert_pack_inputs`, as TF-Hub documents for its BERT preprocessors. Longer texts are truncated.
    """

    def __init__(self, preprocessor: str, encoder: str, seq_length: int | None = None, trainable: bool = False,
                 **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        self._config = {"preprocessor": str(preprocessor), "encoder": str(encoder), "seq_length": seq_length}
        if seq_length is None:
            self.tokenize, self.pack = None, _hub_layer(preprocessor)
        else:
            if seq_length < 3:
                raise EncoderError(f"seq_length must be at least 3 ([CLS], a token, [SEP]), got {seq_length}")
            with _loading(preprocessor):
                loaded = hub.load(_check_handle(preprocessor))
            self.tokenize = hub.KerasLayer(loaded.tokenize)
            self.pack = hub.KerasLayer(loaded.bert_pack_inputs, arguments={"seq_length": seq_length})
        self.encoder = _hub_layer(encoder, trainable=trainable)

    def __call__(self, texts, *args, **kwargs):
        if isinstance(texts, (list, tuple)):  # Keras would otherwise treat a list as separate inputs
            texts = tf.constant(list(texts), dtype=tf.string)
        return super().__call__(texts, *args, **kwargs)

    def call(self, texts, training=None):
        if texts.dtype != tf.string:
            raise EncoderError(f"the text embedder takes strings, got {texts.dtype.name}")
        if texts.shape.rank != 1:
            raise EncoderError(f"the text embedder takes a batch of strings [batch], got shape {texts.shape}")
        inputs = self.pack([self.tokenize(texts)]) if self.tokenize is not None else self.pack(texts)
        # Drop the padding columns every text has: masked out anyway, they would multiply the encoder's work for
        # short texts (titles are ~20 of the 128 positions).
        longest = tf.reduce_max(tf.reduce_sum(inputs["input_mask"], axis=1))
        inputs = {name: ids[:, :longest] for name, ids in inputs.items()}
        outputs = self.encoder(inputs, training=training)
        return sentence_embedding(outputs["sequence_output"], inputs["input_mask"])

    def get_config(self):
        return {**super().get_config(), **self._config}


class ImageEmbedding(tf.keras.layers.Layer):
    """Images [batch, height, width, 3] (float in [0, 1], or uint8) -> feature vectors [batch, D] (1280 here).

    Images are resized to image_size x image_size first (the size the ImageNet models were trained at).
    """

    def __init__(self, handle: str, image_size: int | None = IMAGE_SIZE, trainable: bool = False, **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        self._config = {"handle": str(handle), "image_size": image_size}
        self.image_size = image_size
        self.model = _hub_layer(handle, trainable=trainable)

    def call(self, images, training=None):
        if images.shape.rank != 4 or images.shape[-1] != 3:
            raise EncoderError(f"the image embedder takes RGB images [batch, height, width, 3], got shape "
                               f"{images.shape}")
        if images.dtype == tf.uint8:
            images = tf.image.convert_image_dtype(images, tf.float32)
        elif images.dtype.is_floating:
            images = tf.cast(images, tf.float32)
        else:
            raise EncoderError(f"the image embedder takes float images in [0, 1] or uint8, got {images.dtype.name}")
        if self.image_size and images.shape[1:3] != (self.image_size, self.image_size):
            images = tf.image.resize(images, [self.image_size, self.image_size], antialias=True)
        return self.model(images, training=training)

    def get_config(self):
        return {**super().get_config(), **self._config}


class AudioEmbedding(tf.keras.layers.Layer):
    """Mono waveforms [batch, samples] at 16 kHz in [-1, 1] -> music embeddings [batch, 200] (musicnn)."""

    def __init__(self, handle: str, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self._config = {"handle": str(handle)}
        self.model = _hub_layer(handle)

    def call(self, waveforms):
        if waveforms.shape.rank != 2:
            raise EncoderError(f"the audio embedder takes waveforms [batch, samples], got shape {waveforms.shape}")
        if not waveforms.dtype.is_floating:
            raise EncoderError(f"the audio embedder takes float waveforms in [-1, 1], got {waveforms.dtype.name}")
        return self.model(tf.cast(waveforms, tf.float32))["embedding"]

    def get_config(self):
        return {**super().get_config(), **self._config}


def _local() -> EncoderConfig:
    return EncoderConfig().resolved()


def load_text_embedder(encoder: str | None = None, preprocessor: str | None = None, *,
                       seq_length: int | None = None, trainable: bool = False) -> TextEmbedding:
    """A TextEmbedding over the given handles (default: the local MiniLM conversion)."""
    local = _local()
    return TextEmbedding(preprocessor or local.text_preprocessor, encoder or local.text_encoder, seq_length,
                         trainable)


def load_image_embedder(handle: str | None = None, *, image_size: int | None = IMAGE_SIZE,
                        trainable: bool = False) -> ImageEmbedding:
    """An ImageEmbedding over a TF-Hub image feature-vector handle (default: the local MobileNetV2 conversion)."""
    return ImageEmbedding(handle or _local().image_feature_vector, image_size, trainable)


def load_audio_embedder(handle: str | None = None) -> AudioEmbedding:
    """An AudioEmbedding over a musicnn-interface handle (default: the local musicnn conversion)."""
    return AudioEmbedding(handle or _local().audio)


def load_embedder(modality: str, encoders: EncoderConfig):
    """The embedder of one of avrec.features.MODALITIES, from the handles in `encoders` (resolved)."""
    if modality == "text":
        return load_text_embedder(encoders.text_encoder, encoders.text_preprocessor)
    if modality == "image":
        return load_image_embedder(encoders.image_feature_vector)
    if modality == "audio":
        return load_audio_embedder(encoders.audio)
    raise EncoderError(f"unknown modality {modality!r}")
