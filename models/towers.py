"""The two towers: an item tower that turns what is known of an item into one vector, and a query tower that reads a
user's recent items (those same vectors) and their id.

An item is one vector wherever it appears: as a candidate, and in someone's history. So whatever the item tower
learns from content (genres, words, pretrained text, cover, audio) reaches the query too, and an item with few or
no interactions is read through its content on both sides.
"""
from __future__ import annotations

import dataclasses

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf

from avrec.config import ModelConfig
from avrec.features import MODALITIES
from avrec.models import preprocessing as P
from avrec.models.attention import SelfAttentiveHistory
from avrec.models.fusion import AlphaFusion, GatedFusion, ModalityDropout
from avrec.models.item_content import ItemContent
from avrec.models.layers import IdDropout, MeanPooledEmbedding


# An item's bag of words reads its first MAX_TOKENS words: a mean over a few hundred tags adds nothing.
MAX_TOKENS = 64


@dataclasses.dataclass(frozen=True)
class VocabularySizes:
    """In-vocabulary sizes; each table adds `oov_buckets` rows after them, the first of which is the OOV index."""

    users: int
    items: int
    genres: int
    tokens: int


def history_vectors(table: tf.Tensor, rows: tf.Tensor, present: tf.Tensor, unknown: tf.Tensor) -> tf.Tensor:
    """Item vectors [N, D] gathered for history rows [B, L] (-1: an id the table lacks, read as `unknown` [1, D]),
    zero where nothing is present -> [B, L, D]."""
    known = tf.expand_dims(rows >= 0, -1)
    vectors = tf.where(known, tf.gather(table, tf.maximum(rows, 0)), unknown)
    return vectors * tf.cast(tf.expand_dims(present, -1), vectors.dtype)


class MeanAndLatest(tf.keras.layers.Layer):
    """The history read as its mean and its most recent item, through a small MLP: order beyond the latest is lost."""

    def __init__(self, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.mlp = tf.keras.Sequential([tf.keras.layers.Dense(2 * dim, activation="relu"), tf.keras.layers.Dense(dim)])

    def call(self, history, present, training=None):
        weights = tf.cast(present, history.dtype)[:, :, tf.newaxis]
        count = tf.reduce_sum(weights, axis=1)
        mean = tf.math.divide_no_nan(tf.reduce_sum(history * weights, axis=1), count)
        lengths = tf.reduce_sum(tf.cast(present, tf.int32), axis=1)
        latest = tf.gather(history, tf.maximum(lengths - 1, 0), batch_dims=1)
        return self.mlp(tf.concat([mean, latest], axis=-1))

    def every_position(self, history, present, training=None):
        """[B, L, D]: the read at each present position (the mean up to it, and its item), zeros elsewhere."""
        weights = tf.cast(present, history.dtype)[:, :, tf.newaxis]
        mean = tf.math.divide_no_nan(tf.cumsum(history * weights, axis=1), tf.cumsum(weights, axis=1))
        return self.mlp(tf.concat([mean, history], axis=-1)) * weights


class QueryTower(tf.keras.Model):
    """The user's recent item vectors [B, L, D] (most recent last) read by self-attention over their order
    (`user_tower="attention"`) or as mean and latest (`"mean"`), plus the user id's own vector. Users with fewer than
    `user_min_examples` training examples share the OOV id (Transform), so a sparse id adds a learned average, not
    noise."""

    def __init__(self, sizes: VocabularySizes, config: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        self.user_dropout = IdDropout(config.id_dropout, oov_index=sizes.users, seed=config.seed)
        self.user_embedding = tf.keras.layers.Embedding(sizes.users + config.oov_buckets, dim, name="user_id")
        self.user_projection = tf.keras.layers.Dense(dim, name="user_projection")
        self.history = (SelfAttentiveHistory(config.history_length, dim, config.attention_blocks,
                                             config.attention_heads, config.attention_dropout, name="history")
                        if config.user_tower == "attention" else MeanAndLatest(dim, name="history"))
        self.behaviour_only = False  # pretraining: the history alone, no user id

    def call(self, features, history, present, training=None):
        return self._with_user(features, self.history(history, present, training=training), training)

    def every_position(self, features, history, present, training=None):
        """[B, L + 1, D]: at slot j, the query of the row's first j history items (slot 0: an empty history), as
        `call` reads those j alone."""
        reads = self.history.every_position(history, present, training=training)
        empty = self.history(tf.zeros_like(history[:1, :1]), tf.zeros_like(present[:1, :1]), training=False)
        empty = tf.broadcast_to(empty[:, tf.newaxis], tf.stack([tf.shape(reads)[0], 1, tf.shape(reads)[2]]))
        return self._with_user(features, tf.concat([empty, reads], axis=1), training, expand=True)

    def _with_user(self, features, read, training, expand=False):
        if self.behaviour_only:
            return read
        user = self.user_projection(self.user_embedding(self.user_dropout(features[P.USER_INDEX], training=training)))
        return read + (user[:, tf.newaxis] if expand else user)


class CandidateTower(tf.keras.Model):
    """Item id embedding plus a projection of its side information: genres, a trainable bag of words over title,
    genres and tags and, when `content` is given, the pretrained text, vision and audio embeddings fused by
    `config.fusion`. An item trained on keeps its id; one never trained on has the OOV id and is told apart by its
    side information alone, which id dropout in training teaches to carry the item. With `text_encoder`, the text
    embedding comes from that (trainable) encoder instead of the frozen lookup."""

    def __init__(self, sizes: VocabularySizes, config: ModelConfig, content: ItemContent | None = None,
                 text_encoder: tf.keras.layers.Layer | None = None, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        oov = config.oov_buckets
        self.item_dropout = IdDropout(config.id_dropout, oov_index=sizes.items, seed=config.seed + 1)
        self.item_embedding = tf.keras.layers.Embedding(sizes.items + oov, dim, name="item_id")
        self.genres = MeanPooledEmbedding(tf.keras.layers.Embedding(sizes.genres + oov, dim // 2), padding=P.INDEX_PAD,
                                          name="genres")
        self.text = MeanPooledEmbedding(tf.keras.layers.Embedding(sizes.tokens + oov, dim), padding=P.INDEX_PAD,
                                        limit=MAX_TOKENS, name="text")
        self.content = content
        self.text_encoder = text_encoder  # trainable: embeds the item text instead of the frozen lookup
        self.fusion_kind = config.fusion
        if content is not None:
            self.modality_dropout = ModalityDropout(config.modality_dropout, seed=config.seed + 2)
            self.fusion = (GatedFusion(dim, num_modalities=len(MODALITIES), name="gated_fusion")
                           if config.fusion == "gated" else AlphaFusion(dim, config.alpha, name="alpha_fusion"))
            # The modalities in use: the Trainer switches off one that costs on its validation slice.
            self.modality_keep = tf.Variable([True] * len(MODALITIES), trainable=False, name="modality_keep")
        self.side = tf.keras.layers.Dense(dim, name="side")
        self.behaviour_only = False  # pretraining: the item id alone, no side information

    def pretrained(self, features, training=None, keep=None) -> tf.Tensor:
        """The item's pretrained content fused to one vector (zeros where it has none); keep: [M] bool, the
        modalities read (default: modality_keep)."""
        vectors, present = self.content(features[P.ITEM_KEY])
        if self.text_encoder is not None:
            vectors["text"] = self.text_encoder(features[P.ENCODER_TEXT], training=training)
            present = tf.concat([tf.ones_like(present[:, :1]), present[:, 1:]], axis=1)
        present = self.modality_dropout(present & (self.modality_keep if keep is None else keep)[tf.newaxis],
                                        training=training)
        if self.fusion_kind == "gated":
            return self.fusion([vectors[name] for name in MODALITIES], present)
        text_vision = self.fusion(vectors["text"], vectors["image"], present[:, 0], present[:, 1])
        return tf.concat([text_vision, vectors["audio"] * tf.cast(present[:, 2:], tf.float32)], axis=-1)

    def call(self, features, training=None, keep=None, ids=True):
        """keep: the pretrained modalities read ([M] bool; default: modality_keep); ids: False reads every item as
        a cold one (the OOV id: its content and categories alone)."""
        items = self.item_dropout(features[P.ITEM_INDEX], training=training)
        if not ids:
            items = tf.fill(tf.shape(items), tf.cast(self.item_dropout.oov_index, items.dtype))
        if self.behaviour_only:
            return self.item_embedding(items)
        side = [self.genres(features[P.GENRE_INDICES]), self.text(features[P.TOKEN_INDICES])]
        if self.content is not None:
            side.append(self.pretrained(features, training=training, keep=keep))
        return self.item_embedding(items) + self.side(tf.concat(side, axis=-1))
