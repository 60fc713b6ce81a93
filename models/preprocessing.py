"""Transform's preprocessing_fn: raw interaction features -> the features the towers read.

Vocabularies are computed over the training split only (Transform's analyze split), each with OOV buckets, so users
and items unseen in training map to a shared OOV index instead of failing. The same graph is baked into the exported
model and applied to raw request features at serving time. History items stay raw ids: the model finds them in its
catalog (models/catalog_items.py), so an item nobody trained on is still read with its own content.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
import tensorflow_transform as tft

from avrec import features as F
from avrec.config import ModelConfig
from avrec.models.item_content import content_text_tensor

USER_VOCAB = "user_id"
ITEM_VOCAB = "item_id"
GENRE_VOCAB = "genres"
TOKEN_VOCAB = "text_tokens"

# Transformed feature names.
USER_INDEX = "user_index"
USER_KEY = "user_key"  # the raw user id (the validation slice samples users by it)
ITEM_INDEX = "item_index"
ITEM_KEY = "item_key"  # the raw item id: its catalog row, its pretrained content
ENCODER_TEXT = "encoder_text"  # what the pretrained text encoder reads, when it is fine-tuned
HISTORY_KEYS = "history_keys"  # [batch, history_length] raw item ids, most recent last, HISTORY_PAD where shorter
GENRE_INDICES = "genre_indices"  # sparse, one row per example
TOKEN_INDICES = "token_indices"  # sparse, one row per example
LATEST = F.LATEST  # passed through: 1 on a user's latest training example
WINDOW = F.WINDOW  # passed through: the trailing items of history + target the row trains as a window
HELD = "held"  # added by the Trainer's input: the row's target is in the validation slice (train its window's rest)
HISTORY_PAD = ""
INDEX_PAD = -1  # pads dense index lists (genres, tokens) where a batch of them is dense


def normalize_text(text: tf.Tensor) -> tf.Tensor:
    """Unicode-aware lower-casing; anything that is not a letter or digit separates tokens."""
    lowered = tf.strings.lower(text, encoding="utf-8")
    return tf.strings.strip(tf.strings.regex_replace(lowered, r"[^\p{L}\p{N}]+", " "))


def bag_of_words_text(title: tf.Tensor, genres: tf.SparseTensor, text: tf.Tensor) -> tf.Tensor:
    """The words the candidate tower's trainable bag of words reads: title, genres and free text."""
    genre_text = tf.strings.reduce_join(tf.RaggedTensor.from_sparse(genres), axis=1, separator=" ")
    return tf.strings.join([title, genre_text, text], separator=" ")


def last_n(ids: tf.RaggedTensor, n: int, pad) -> tf.Tensor:
    """The last n values of each row, left-aligned and padded on the right to exactly n columns."""
    tail = ids[:, -n:]
    return tail.to_tensor(default_value=pad, shape=[None, n])


def _scalar(feature: tf.Tensor) -> tf.Tensor:
    return tf.reshape(feature, [-1])


def preprocessing_fn(inputs, custom_config):
    config = ModelConfig.from_dict(custom_config["model"])
    oov = config.oov_buckets

    user_ids = _scalar(inputs[F.USER_ID])
    item_ids = _scalar(inputs[F.ITEM_ID])
    item_vocab = tft.vocabulary(item_ids, vocab_filename=ITEM_VOCAB)

    text = bag_of_words_text(_scalar(inputs[F.TITLE]), inputs[F.GENRES], _scalar(inputs[F.TEXT]))
    tokens = tf.strings.split(normalize_text(text))
    token_indices = tf.ragged.map_flat_values(
        lambda values: tft.compute_and_apply_vocabulary(
            values, top_k=config.text_vocab_size, num_oov_buckets=oov, vocab_filename=TOKEN_VOCAB), tokens)

    genres = tf.RaggedTensor.from_sparse(inputs[F.GENRES])
    genre_indices = tf.ragged.map_flat_values(
        lambda values: tft.compute_and_apply_vocabulary(values, num_oov_buckets=oov, vocab_filename=GENRE_VOCAB),
        genres)

    return {
        # Users seen fewer than user_min_examples times share the OOV row: a learned "any user", not a noisy id.
        USER_INDEX: tft.compute_and_apply_vocabulary(user_ids, num_oov_buckets=oov, vocab_filename=USER_VOCAB,
                                                     frequency_threshold=config.user_min_examples),
        USER_KEY: user_ids,
        ITEM_INDEX: tft.apply_vocabulary(item_ids, item_vocab, num_oov_buckets=oov),
        ITEM_KEY: item_ids,
        ENCODER_TEXT: content_text_tensor(_scalar(inputs[F.TITLE]), genres.to_tensor(default_value=""),
                                          _scalar(inputs[F.TEXT])),
        HISTORY_KEYS: last_n(tf.RaggedTensor.from_sparse(inputs[F.HISTORY]), config.history_length, HISTORY_PAD),
        GENRE_INDICES: genre_indices.to_sparse(),
        TOKEN_INDICES: token_indices.to_sparse(),
        LATEST: _scalar(inputs[F.LATEST]),
        WINDOW: _scalar(inputs[F.WINDOW]),
    }
