"""The two towers: a query tower over the user and their recent history, a candidate tower over the item.

They share the item-id embedding table, so an item read in someone's history and the same item as a candidate start
from one representation.
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
from avrec.models.layers import IdDropout, MeanPooledEmbedding, as_ragged, projection


@dataclasses.dataclass(frozen=True)
class VocabularySizes:
    """In-vocabulary sizes; each table adds `oov_buckets` rows after them, the first of which is the OOV index."""

    users: int
    items: int
    genres: int
    tokens: int


class QueryTower(tf.keras.Model):
    """User id embedding + the history's item embeddings -> query embedding. The history is read as the mean and the
    most recent item (`user_tower="mean"`), or by self-attention over its order (`"attention"`), then the mean."""

    def __init__(self, sizes: VocabularySizes, item_embedding: tf.keras.layers.Embedding, config: ModelConfig, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        self.user_dropout = IdDropout(config.id_dropout, oov_index=sizes.users, seed=config.seed)
        self.user_embedding = tf.keras.layers.Embedding(sizes.users + config.oov_buckets, dim, name="user_id")
        self.item_embedding = item_embedding
        self.history_mean = MeanPooledEmbedding(item_embedding, padding=P.HISTORY_PAD, name="history_mean")
        self.sequence = (SelfAttentiveHistory(item_embedding, config.history_length, dim, config.attention_blocks,
                                              config.attention_heads, config.attention_dropout, P.HISTORY_PAD,
                                              name="self_attentive_history")
                         if config.user_tower == "attention" else None)
        self.project = projection(2 * dim, dim, name="query_projection")

    def call(self, features, training=None):
        users = self.user_dropout(features[P.USER_INDEX], training=training)
        indices = features[P.HISTORY_INDICES]
        history = as_ragged(indices, padding=P.HISTORY_PAD)
        if self.sequence is not None:
            read = self.sequence(indices, training=training)
        else:
            has_history = tf.expand_dims(tf.cast(history.row_lengths() > 0, tf.float32), -1)
            last_item = tf.maximum(history[:, -1:].to_tensor(default_value=0, shape=[None, 1])[:, 0], 0)
            read = self.item_embedding(last_item) * has_history
        return self.project(tf.concat([self.user_embedding(users), self.history_mean(history), read], axis=-1))


class CandidateTower(tf.keras.Model):
    """Item id embedding + genres + a trainable bag of words over title, genres and tags, and, when `content` is
    given, the item's pretrained text, vision and audio embeddings fused by `config.fusion` -> item embedding.
    With `text_encoder`, the text embedding comes from that (trainable) encoder instead of the frozen lookup."""

    def __init__(self, sizes: VocabularySizes, config: ModelConfig, content: ItemContent | None = None,
                 text_encoder: tf.keras.layers.Layer | None = None, **kwargs):
        super().__init__(**kwargs)
        dim = config.embedding_dim
        oov = config.oov_buckets
        self.item_dropout = IdDropout(config.id_dropout, oov_index=sizes.items, seed=config.seed + 1)
        self.item_embedding = tf.keras.layers.Embedding(sizes.items + oov, dim, name="item_id")
        self.genres = MeanPooledEmbedding(tf.keras.layers.Embedding(sizes.genres + oov, dim // 2), name="genres")
        self.text = MeanPooledEmbedding(tf.keras.layers.Embedding(sizes.tokens + oov, dim), name="text")
        self.content = content
        self.text_encoder = text_encoder  # trainable: embeds the item text instead of the frozen lookup
        self.fusion_kind = config.fusion
        if content is not None:
            self.modality_dropout = ModalityDropout(config.modality_dropout, seed=config.seed + 2)
            self.fusion = (GatedFusion(dim, num_modalities=2 + len(MODALITIES), name="gated_fusion")
                           if config.fusion == "gated" else AlphaFusion(dim, config.alpha, name="alpha_fusion"))
        self.project = projection(2 * dim, dim, name="candidate_projection")

    def call(self, features, training=None):
        items = self.item_dropout(features[P.ITEM_INDEX], training=training)
        learned = [self.item_embedding(items),
                   tf.concat([self.genres(features[P.GENRE_INDICES]), self.text(features[P.TOKEN_INDICES])], -1)]
        if self.content is None:
            return self.project(tf.concat(learned, axis=-1))
        vectors, present = self.content(features[P.ITEM_KEY])
        if self.text_encoder is not None:
            vectors["text"] = self.text_encoder(features[P.ENCODER_TEXT], training=training)
            present = tf.concat([tf.ones_like(present[:, :1]), present[:, 1:]], axis=1)
        present = self.modality_dropout(present, training=training)
        if self.fusion_kind == "gated":
            always = tf.ones_like(present[:, :2])
            fused = self.fusion([*learned, *(vectors[name] for name in MODALITIES)],
                                tf.concat([always, present], axis=1))
            return self.project(tf.concat([fused, *learned], axis=-1))
        text_vision = self.fusion(vectors["text"], vectors["image"], present[:, 0], present[:, 1])
        audio = vectors["audio"] * tf.cast(present[:, 2:], tf.float32)
        return self.project(tf.concat([*learned, text_vision, audio], axis=-1))
