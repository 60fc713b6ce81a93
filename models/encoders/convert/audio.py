"""musicnn (MSD, 50 Million Song Dataset tags) as a music embedding SavedModel with its spectrogram front end.

Interface (musicnn has no TF-Hub counterpart, so this one is ours, in TF-Hub's style): mono waveform float32
[batch, samples] at 16 kHz in [-1, 1] -> {"embedding": [batch, 200], "tags": [batch, 50]}. As musicnn does, the
log-mel spectrogram (512-point FFT, hop 256, 96 Slaney mel bands, log10(10000 x + 1)) is cut into 3 s patches
(187 frames; the remainder is dropped, clips shorter than one patch are repeated to fill it); the embedding is the
patches' mean penultimate layer (after its batch norm), the tags the patches' mean sigmoid probabilities.
`tag_names()` returns the tag labels.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from avrec.models.encoders.errors import EncoderError
from avrec.models.encoders.interfaces import AUDIO_SAMPLE_RATE as SAMPLE_RATE
from avrec.models.encoders.convert.weights import package_dir

FFT_SIZE = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187
EMBEDDING_DIM = 200
_BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
_FLOAT16_MAX = 65504.0


def source_checkpoint() -> str:
    """The TF1 checkpoint prefix of MSD_musicnn inside the musicnn wheel: its files are 'MSD_musicnn/.index' etc."""
    return f"{package_dir('musicnn', 'musicnn') / 'MSD_musicnn'}/"


def _hz_to_mel(hz):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_step = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, linear)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    log_step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))


def mel_filterbank(sample_rate: int = SAMPLE_RATE, fft_size: int = FFT_SIZE, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular Slaney-normalised (constant energy per band) mel filters, [fft_size // 2 + 1, n_mels]."""
    fft_freqs = np.linspace(0.0, sample_rate / 2.0, fft_size // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters.T.astype(np.float32)


class LogMelPatches(tf.keras.layers.Layer):
    """Waveform [batch, samples] -> log-mel patches [batch * patches, 187, 96] and the patch count per clip."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._filters = tf.constant(mel_filterbank())

    def call(self, waveform):
        # Centred frames with zero padding, as librosa.stft(center=True, pad_mode="constant").
        padded = tf.pad(waveform, [[0, 0], [FFT_SIZE // 2, FFT_SIZE // 2]])
        spectrum = tf.signal.stft(padded, FFT_SIZE, HOP, FFT_SIZE, window_fn=tf.signal.hann_window)
        mel = tf.tensordot(tf.math.square(tf.abs(spectrum)), self._filters, axes=1)
        # musicnn's models were trained on spectrograms stored as float16: round like them (but never to inf).
        mel = tf.cast(tf.cast(tf.minimum(mel, _FLOAT16_MAX), tf.float16), tf.float32)
        log_mel = tf.math.log(10000.0 * mel + 1.0) / tf.math.log(10.0)
        frames = tf.shape(log_mel)[1]
        log_mel = tf.tile(log_mel, [1, tf.maximum(1, -(-PATCH_FRAMES // frames)), 1])
        patches = tf.maximum(1, frames // PATCH_FRAMES)
        batch = tf.shape(waveform)[0]
        return tf.reshape(log_mel[:, :patches * PATCH_FRAMES], [batch * patches, PATCH_FRAMES, N_MELS]), patches


def _bn(name):
    return tf.keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=name)


class _FrequencyMax(tf.keras.layers.Layer):
    """[batch, time, freq, filters] -> [batch, time, filters]: musicnn pools each filter over all frequencies."""

    def call(self, x):
        return tf.reduce_max(x, axis=2)


class _TemporalPool(tf.keras.layers.Layer):
    """[batch, time, channels] -> [batch, 2 * channels], max and mean interleaved per channel as musicnn flattens."""

    def call(self, x):
        return tf.reshape(tf.stack([tf.reduce_max(x, 1), tf.reduce_mean(x, 1)], axis=2), [-1, 2 * x.shape[-1]])


class _PatchMean(tf.keras.layers.Layer):
    """[batch * patches, dim] -> [batch, dim]."""

    def call(self, x, patches):
        return tf.reduce_mean(tf.reshape(x, [-1, patches, x.shape[-1]]), axis=1)


# Layer name -> the TF1 checkpoint scope it takes its weights from (musicnn creates them in this order).
_CHECKPOINT_SCOPES = {
    "input_bn": "batch_normalization",
    "timbral_74_conv": "conv2d", "timbral_74_bn": "batch_normalization_1",
    "timbral_77_conv": "conv2d_1", "timbral_77_bn": "batch_normalization_2",
    "temporal_128_conv": "conv2d_2", "temporal_128_bn": "batch_normalization_3",
    "temporal_64_conv": "conv2d_3", "temporal_64_bn": "batch_normalization_4",
    "temporal_32_conv": "conv2d_4", "temporal_32_bn": "batch_normalization_5",
    "midend_1_conv": "conv2d_5", "midend_1_bn": "batch_normalization_6",
    "midend_2_conv": "conv2d_6", "midend_2_bn": "batch_normalization_7",
    "midend_3_conv": "conv2d_7", "midend_3_bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9", "penultimate": "dense", "penultimate_bn": "batch_normalization_10",
    "logits": "dense_1",
}


def build(num_tags: int) -> tf.keras.Model:
    """musicnn's 'musically motivated' front end (timbral and temporal filters), dense mid end and pooled back end."""
    waveform = tf.keras.Input(shape=(None,), dtype=tf.float32, name="waveform")
    spec, patches = LogMelPatches(name="log_mel_patches")(waveform)
    x = _bn("input_bn")(tf.keras.layers.Reshape((PATCH_FRAMES, N_MELS, 1))(spec))

    front = []
    padded = tf.keras.layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
    for size, fraction in ((74, 0.4), (77, 0.7)):  # timbral: 7 frames x 40% / 70% of the mel bands
        conv = tf.keras.layers.Conv2D(204, (7, int(fraction * N_MELS)), activation="relu",
                                      name=f"timbral_{size}_conv")(padded)
        front.append(_FrequencyMax()(_bn(f"timbral_{size}_bn")(conv)))
    for length in (128, 64, 32):  # temporal: long single-band filters
        conv = tf.keras.layers.Conv2D(51, (length, 1), padding="same", activation="relu",
                                      name=f"temporal_{length}_conv")(x)
        front.append(_FrequencyMax()(_bn(f"temporal_{length}_bn")(conv)))
    front = tf.keras.layers.Concatenate(axis=2)(front)

    mid = [front]
    y = front
    for i in (1, 2, 3):  # dense mid end: time convolutions over all channels, residual from the second on
        conv = tf.keras.layers.Conv1D(64, 7, activation="relu", name=f"midend_{i}_conv")(
            tf.keras.layers.ZeroPadding1D(3)(y))
        out = _bn(f"midend_{i}_bn")(conv)
        y = out if i == 1 else tf.keras.layers.Add()([out, y])
        mid.append(y)

    pooled = _bn("pool_bn")(_TemporalPool()(tf.keras.layers.Concatenate(axis=2)(mid)))
    dense = tf.keras.layers.Dense(EMBEDDING_DIM, activation="relu", name="penultimate")(
        tf.keras.layers.Dropout(0.5)(pooled))
    penultimate = _bn("penultimate_bn")(dense)
    logits = tf.keras.layers.Dense(num_tags, name="logits")(tf.keras.layers.Dropout(0.5)(penultimate))
    probabilities = tf.keras.layers.Activation("sigmoid")(logits)
    outputs = {"embedding": _PatchMean(name="embedding")(penultimate, patches),
               "tags": _PatchMean(name="tags")(probabilities, patches)}
    return tf.keras.Model(waveform, outputs, name="musicnn")


def _load_weights(model: tf.keras.Model, checkpoint: str) -> None:
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(checkpoint)
        for layer_name, scope in _CHECKPOINT_SCOPES.items():
            layer = model.get_layer(layer_name)
            if isinstance(layer, tf.keras.layers.BatchNormalization):
                names = ("gamma", "beta", "moving_mean", "moving_variance")
                layer.set_weights([reader.get_tensor(f"{scope}/{n}") for n in names])
            else:
                kernel = reader.get_tensor(f"{scope}/kernel")
                if isinstance(layer, tf.keras.layers.Conv1D):  # TF1 [time, channels, 1, filters] -> 1-D conv
                    kernel = kernel[:, :, 0, :]
                layer.set_weights([kernel, reader.get_tensor(f"{scope}/bias")])
    except (tf.errors.OpError, ValueError) as e:
        raise EncoderError(f"the musicnn checkpoint {checkpoint} does not fit the architecture: {e}") from e


def tag_labels() -> list[str]:
    """MSD_musicnn's 50 tag names, from the musicnn package's configuration module (it imports nothing)."""
    return list(importlib.import_module("musicnn.configuration").MSD_LABELS)


def export(checkpoint: str, out_dir: Path) -> None:
    """Writes the musicnn SavedModel converted from its TF1 checkpoint."""
    labels = tag_labels()
    model = build(len(labels))
    _load_weights(model, checkpoint)
    model.tag_names = tf.function(lambda: tf.constant(labels), input_signature=[])
    tf.saved_model.save(model, str(out_dir))
