"""Numerical parity of the converted encoders with their reference implementations, and their API contracts.

The references' outputs were computed once by scripts/make_encoder_fixtures.py (sentence-transformers, torchvision,
musicnn) and stored in tests/fixtures/encoders/. The SavedModels are built by the setup step into build/encoders/;
the `built` fixture (re)builds them there only when missing or stale, atomically, so reruns are safe.
"""
import json
import pickle
import struct
from pathlib import Path

import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401

from avrec.models.encoders import EncoderError, load_audio_embedder, load_image_embedder, load_text_embedder
from avrec.models.encoders.build import ensure_built
from avrec.models.encoders import audio
from avrec.models.encoders.weights import read_safetensors, read_torch_state_dict

FIXTURES = Path(__file__).parent / "fixtures" / "encoders"


def _cosine(a, b):
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def text_fixture():
    return np.load(FIXTURES / "text.npz")


def test_text_embeddings_match_sentence_transformers_through_hub_layers(handles, text_fixture):
    sentences = tf.constant(text_fixture["sentences"])
    preprocessor = hub.KerasLayer(handles.text_preprocessor)
    encoder = hub.KerasLayer(handles.text_encoder)
    inputs = preprocessor(sentences)
    assert {k: v.dtype for k, v in inputs.items()} == dict.fromkeys(
        ["input_word_ids", "input_mask", "input_type_ids"], tf.int32)
    np.testing.assert_array_equal(inputs["input_word_ids"].numpy(), text_fixture["token_ids"])
    outputs = encoder(inputs)
    assert outputs["pooled_output"].shape == (20, 384) and outputs["sequence_output"].shape == (20, 128, 384)

    mask = inputs["input_mask"].numpy()[:, :, None].astype(np.float32)
    ours = (outputs["sequence_output"].numpy() * mask).sum(1) / mask.sum(1)
    cosine = _cosine(ours, text_fixture["embeddings"])
    assert cosine.min() >= 0.999, dict(zip(text_fixture["sentences"], cosine))

    embedder = load_text_embedder(handles.text_encoder, handles.text_preprocessor)
    embedded = embedder(list(text_fixture["sentences"])).numpy()
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    assert _cosine(embedded, text_fixture["embeddings"]).min() >= 0.999


def test_text_preprocessor_packs_pairs_and_other_lengths_like_tf_hub(handles, text_fixture):
    preprocessor = hub.load(handles.text_preprocessor)
    tokens = preprocessor.tokenize(tf.constant(["Space adventure with robots!", "Hi"]))
    assert tokens.shape.rank == 3  # [batch, words, wordpieces]
    packed = hub.KerasLayer(preprocessor.bert_pack_inputs, arguments={"seq_length": 8})([tokens, tokens])
    ids, types, mask = (packed[k].numpy() for k in ("input_word_ids", "input_type_ids", "input_mask"))
    assert ids.shape == (2, 8)
    cls, sep = 101, 102
    # Round-robin trimming to 8: [CLS] a a a [SEP] b b [SEP]; "Hi" + "Hi" fits with padding.
    assert ids[0, 0] == cls and ids[0, 4] == sep and ids[0, 7] == sep and types[0].tolist() == [0] * 5 + [1] * 3
    assert ids[1, :5].tolist() == [cls, ids[1, 1], sep, ids[1, 1], sep] and mask[1].tolist() == [1] * 5 + [0] * 3

    # A longer sequence length changes padding only, not the sentence embedding.
    long = load_text_embedder(handles.text_encoder, handles.text_preprocessor, seq_length=256)
    embedded = long(tf.constant(text_fixture["sentences"][:4])).numpy()
    assert _cosine(embedded, text_fixture["embeddings"][:4]).min() >= 0.999
    short = load_text_embedder(handles.text_encoder, handles.text_preprocessor, seq_length=4)
    truncated = short(tf.constant(["Space adventure with robots and aliens"])).numpy()
    assert _cosine(truncated, text_fixture["embeddings"][1:2])[0] < 0.99  # only "space adventure" is left


def test_text_encoder_fine_tunes_through_the_hub_layer(handles):
    assert not load_text_embedder(handles.text_encoder, handles.text_preprocessor).trainable_variables
    embedder = load_text_embedder(handles.text_encoder, handles.text_preprocessor, trainable=True)
    assert len(embedder.trainable_variables) > 100  # every BERT weight, as with TF-Hub's reusable SavedModels
    texts = tf.constant(["space robots", "romantic comedy"])
    before = embedder(texts).numpy()
    with tf.GradientTape() as tape:
        embedded = embedder(texts, training=True)
        loss = -tf.reduce_sum(embedded[0] * embedded[1])  # pull the two texts together
    gradients = tape.gradient(loss, embedder.trainable_variables)
    tf.keras.optimizers.SGD(0.1).apply_gradients(zip(gradients, embedder.trainable_variables))
    after = embedder(texts).numpy()
    assert after[0] @ after[1] > before[0] @ before[1] + 0.1


@pytest.fixture(scope="module")
def photos():
    reference = np.load(FIXTURES / "vision.npz")
    pixels = np.stack([tf.io.decode_png(tf.io.read_file(str(FIXTURES / f"{name}.png"))).numpy()
                       for name in reference["photos"]])
    return reference, pixels


def test_vision_top1_and_features_match_torchvision(handles, photos):
    reference, pixels = photos
    images = pixels.astype(np.float32) / 255.0
    logits = hub.KerasLayer(handles.image_classifier)(images).numpy()
    assert logits.shape == (len(pixels), 1000)
    np.testing.assert_array_equal(logits.argmax(1), reference["top1"])
    features = hub.KerasLayer(handles.image_feature_vector)(images).numpy()
    assert features.shape == (len(pixels), 1280)
    assert _cosine(features, reference["features"]).min() >= 0.999

    embedder = load_image_embedder(handles.image_feature_vector)
    np.testing.assert_allclose(embedder(pixels).numpy(), features, atol=1e-4)  # uint8 in, same vectors
    # Other sizes are resized to 224 first; an upscaled photo still yields a close vector.
    upscaled = tf.image.resize(images[:1], [320, 320]).numpy()
    assert _cosine(embedder(upscaled).numpy(), reference["features"][:1])[0] > 0.9


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


def test_musicnn_tags_and_embedding_match_reference(handles, clip):
    reference, waveform = clip
    model = hub.load(handles.audio)
    outputs = hub.KerasLayer(handles.audio)(waveform)
    tags = outputs["tags"].numpy()[0]
    expected = reference["taggram"].mean(0)  # musicnn's clip-level tags: mean over its 3 s patches
    assert [t.decode() for t in model.tag_names().numpy()] == reference["labels"].tolist()
    assert np.argsort(-tags)[:5].tolist() == np.argsort(-expected)[:5].tolist()
    np.testing.assert_allclose(tags, expected, atol=2e-3)
    embedding = load_audio_embedder(handles.audio)(waveform).numpy()
    assert embedding.shape == (1, 200)
    assert _cosine(embedding, reference["penultimate"].mean(0, keepdims=True))[0] >= 0.999


def test_short_and_batched_clips_are_embedded(handles, clip):
    _, waveform = clip
    embedder = load_audio_embedder(handles.audio)
    batch = np.concatenate([waveform, waveform[:, ::-1]])
    embedded = embedder(batch).numpy()
    assert embedded.shape == (2, 200) and not np.allclose(embedded[0], embedded[1])
    np.testing.assert_allclose(embedded[:1], embedder(waveform).numpy(), atol=1e-4)  # batching changes nothing
    one_second = embedder(waveform[:, :16000]).numpy()  # shorter than a 3 s patch: repeated to fill it
    assert np.isfinite(one_second).all() and _cosine(one_second, embedded[:1])[0] > 0.5


def test_bad_inputs_and_handles_are_named(handles, tmp_path):
    with pytest.raises(EncoderError, match="no encoder SavedModel at .*missing"):
        load_image_embedder(str(tmp_path / "missing"))
    with pytest.raises(EncoderError, match=r"RGB images \[batch, height, width, 3\]"):
        load_image_embedder(handles.image_feature_vector)(np.zeros((1, 8, 8, 4), np.float32))
    with pytest.raises(EncoderError, match="takes strings, got int32"):
        load_text_embedder(handles.text_encoder, handles.text_preprocessor)(tf.constant([1, 2]))
    with pytest.raises(EncoderError, match=r"waveforms \[batch, samples\]"):
        load_audio_embedder(handles.audio)(np.zeros(16000, np.float32))


def test_weight_readers_decode_and_refuse(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "n": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}}).encode()
    values = np.arange(6, dtype="<f4").reshape(2, 3)
    path = tmp_path / "tiny.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + values.tobytes() + np.array([7, -1], "<i8").tobytes())
    tensors = read_safetensors(path)
    np.testing.assert_array_equal(tensors["w"], values)
    assert tensors["n"].tolist() == [7, -1]

    path.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(EncoderError, match="not a readable safetensors file"):
        read_safetensors(path)

    class Exploit:  # a pickle that would run a shell command if the reader resolved arbitrary globals
        def __reduce__(self):
            import os
            return os.system, ("true",)

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        for part in (0x1950A86A20F9469CFC6C, 1001, {}, {"w": Exploit()}):
            pickle.dump(part, f, protocol=2)
    with pytest.raises(EncoderError, match="refusing to load posix.system"):
        read_torch_state_dict(evil)


def test_build_is_idempotent_and_rebuilds_when_stale(tmp_path):
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "built"}
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "current"}
    (tmp_path / ".stamps" / "audio.json").write_text(json.dumps({"fingerprint": "from older code"}))
    assert ensure_built(tmp_path, only=["audio"], log=lambda _: None) == {"audio": "built"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".stamps", "musicnn_msd"]  # no staging leftovers
    with pytest.raises(EncoderError, match="unknown encoder group"):
        ensure_built(tmp_path, only=["smell"])
