"""MiniLM as TF-Hub BERT preprocessor + encoder: parity with sentence-transformers, packing, fine-tuning."""
import avrec  # noqa: F401  (Keras 2 before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
import tensorflow_text  # noqa: F401

from avrec.models.encoders.embedders import load_text_embedder
from tests.support.encoders import FIXTURES, cosine as _cosine


@pytest.fixture(scope="module")
def text_fixture():
    return np.load(FIXTURES / "text.npz")


def test_text_embeddings_match_sentence_transformers_through_hub_layers(encoders, text_fixture):
    sentences = tf.constant(text_fixture["sentences"])
    preprocessor = hub.KerasLayer(encoders.text_preprocessor)
    encoder = hub.KerasLayer(encoders.text_encoder)
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

    embedder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor)
    embedded = embedder(list(text_fixture["sentences"])).numpy()
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    assert _cosine(embedded, text_fixture["embeddings"]).min() >= 0.999


def test_text_preprocessor_packs_pairs_and_other_lengths_like_tf_hub(encoders, text_fixture):
    preprocessor = hub.load(encoders.text_preprocessor)
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
    long = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, seq_length=256)
    embedded = long(tf.constant(text_fixture["sentences"][:4])).numpy()
    assert _cosine(embedded, text_fixture["embeddings"][:4]).min() >= 0.999
    short = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, seq_length=4)
    truncated = short(tf.constant(["Space adventure with robots and aliens"])).numpy()
    assert _cosine(truncated, text_fixture["embeddings"][1:2])[0] < 0.99  # only "space adventure" is left


def test_text_encoder_fine_tunes_through_the_hub_layer(encoders):
    assert not load_text_embedder(encoders.text_encoder, encoders.text_preprocessor).trainable_variables
    embedder = load_text_embedder(encoders.text_encoder, encoders.text_preprocessor, trainable=True)
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
