"""musicnn as a music embedding SavedModel: the log-mel front end against librosa, tags and embedding against
musicnn, short and batched clips."""
import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from avrec.models.encoders.convert import audio
from avrec.models.encoders.embedders import load_audio_embedder
from tests.support.encoders import FIXTURES, cosine as _cosine


@pytest.fixture(scope="module")
def clip():
    reference = np.load(FIXTURES / "audio.npz")
    return reference, reference["pcm"].astype(np.float32)[None, :] / 32768.0


def test_log_mel_front_end_matches_librosa(clip):
    reference, waveform = clip
    assert int(reference["sample_rate"]) == audio.SAMPLE_RATE
    patches, count = audio.LogMelPatches()(tf.constant(waveform))
    assert int(count) == 2 and patches.shape == (2, audio.PATCH_FRAMES, audio.N_MELS)
    expected = reference["log_mel"][:2 * audio.PATCH_FRAMES].astype(np.float32)  # musicnn stores it as float16
    np.testing.assert_allclose(patches.numpy().reshape(-1, audio.N_MELS), expected, atol=2e-3)


def test_musicnn_tags_and_embedding_match_reference(encoders, clip):
    reference, waveform = clip
    model = hub.load(encoders.audio)
    outputs = hub.KerasLayer(encoders.audio)(waveform)
    tags = outputs["tags"].numpy()[0]
    expected = reference["taggram"].mean(0)  # musicnn's clip-level tags: mean over its 3 s patches
    assert [t.decode() for t in model.tag_names().numpy()] == reference["labels"].tolist()
    assert np.argsort(-tags)[:5].tolist() == np.argsort(-expected)[:5].tolist()
    np.testing.assert_allclose(tags, expected, atol=2e-3)
    embedding = load_audio_embedder(encoders.audio)(waveform).numpy()
    assert embedding.shape == (1, 200)
    assert _cosine(embedding, reference["penultimate"].mean(0, keepdims=True))[0] >= 0.999


def test_short_and_batched_clips_are_embedded(encoders, clip):
    _, waveform = clip
    embedder = load_audio_embedder(encoders.audio)
    batch = np.concatenate([waveform, waveform[:, ::-1]])
    embedded = embedder(batch).numpy()
    assert embedded.shape == (2, 200) and not np.allclose(embedded[0], embedded[1])
    np.testing.assert_allclose(embedded[:1], embedder(waveform).numpy(), atol=1e-4)  # batching changes nothing
    one_second = embedder(waveform[:, :16000]).numpy()  # shorter than a 3 s patch: repeated to fill it
    assert np.isfinite(one_second).all() and _cosine(one_second, embedded[:1])[0] > 0.5
