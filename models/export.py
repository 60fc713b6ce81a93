"""The exported SavedModel: raw request features in, top-K over the full catalog out.

The Transform graph, both towers and an index of every catalog item's embedding are baked in, so TF Serving needs
nothing else. Signatures (the contract clients and the serving layer rely on):
  serving_default  user_id [B], history [B, T] (oldest first, right-padded with "") -> item_ids [B, K], scores [B, K]
  recommend        the same plus exclude [B, E] (items the caller has already shown or the user has seen)
  similar_items    item_id [B] -> item_ids [B, K], scores [B, K]   (the item itself excluded)
  item_embeddings  item_id [B] -> embedding [B, D]
  item_titles      item_id [B] -> title [B]                         ("" for an unknown item)
  search           query [B] (free text) -> item_ids [B, K], scores  (models with content embeddings)
  evaluate         examples [B] (serialized raw tf.Examples) -> rank [B]   (what TFMA reads; see metrics.py)
`upsert_items` (a saved function, not a signature) adds or re-embeds catalog items from content: see refresh.py.
History items are excluded from recommendations. Unknown users and items map to the OOV embeddings: never an error.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec import features as F
from avrec.models import preprocessing as P
from avrec.models.metrics import excluded_mask, target_ranks

CATALOG_BATCH = 4096
STRING = tf.TensorSpec([None], tf.string)
STRING_MATRIX = tf.TensorSpec([None, None], tf.string)


def _as_raw(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """Request tensors -> the shapes the Transform graph was traced with ([B, 1] or sparse)."""
    if isinstance(spec, tf.io.VarLenFeature):
        return tf.sparse.from_dense(values)  # "" padding becomes absent
    return tf.reshape(values, [-1, 1])


class Recommender(tf.Module):
    def __init__(self, query_tower, candidate_tower, transform_layer, raw_feature_spec: Mapping,
                 catalog: Mapping[str, np.ndarray | tf.Tensor], top_k: int):
        super().__init__()
        self.content = candidate_tower.content
        if self.content is not None:  # saving traces every tf.function, so define search only where it can work
            self.search_by_embedding = tf.function(
                self._search_by_embedding, input_signature=[tf.TensorSpec([None, None], tf.float32)])
        self.query_tower = query_tower
        self.candidate_tower = candidate_tower
        self.transform_layer = transform_layer
        self.raw_feature_spec = dict(raw_feature_spec)
        item_ids = tf.constant(catalog[F.ITEM_ID])
        num_items = int(item_ids.shape[0])
        self.top_k = min(top_k, num_items)
        # The index grows when a catalog refresh adds items (upsert_items), hence the open first dimension.
        self.item_ids = tf.Variable(item_ids, shape=[None], trainable=False, name="item_ids")
        self.titles = tf.Variable(tf.constant(catalog[F.TITLE]), shape=[None], trainable=False, name="titles")
        self.positions = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=-1)
        self.positions.insert(item_ids, tf.range(num_items, dtype=tf.int64))
        embeddings = self._embed_catalog(catalog)
        self.item_embeddings_index = tf.Variable(embeddings, shape=[None, embeddings.shape[1]], trainable=False,
                                                 name="item_embedding_index")

    # ---- building blocks -------------------------------------------------------------------------------------------
    def _transform(self, raw: Mapping[str, tf.Tensor]):
        return self.transform_layer({name: _as_raw(value, self.raw_feature_spec[name]) for name, value in raw.items()})

    def _embed_catalog(self, catalog) -> tf.Tensor:
        content = {name: catalog[name] for name in (F.ITEM_ID, *F.ITEM_CONTENT_FEATURES)}
        batches = []
        for start in range(0, len(content[F.ITEM_ID]), CATALOG_BATCH):
            raw = {name: value[start:start + CATALOG_BATCH] for name, value in content.items()}
            batches.append(self._embed_items(raw))
        return tf.concat(batches, axis=0)

    def _embed_items(self, raw_content) -> tf.Tensor:
        return self.candidate_tower(self._transform(raw_content), training=False)

    def _position(self, item_ids: tf.Tensor) -> tf.Tensor:
        """Catalog positions of item ids, -1 where unknown (the mutable table forgets the static shape)."""
        return tf.reshape(self.positions.lookup(item_ids), tf.shape(item_ids))

    @property
    def _num_items(self) -> tf.Tensor:
        return tf.shape(self.item_ids, out_type=tf.int64)[0]

    def _queries(self, user_id, history):
        return self.query_tower(self._transform({F.USER_ID: user_id, F.HISTORY: history}), training=False)

    def _item_vectors(self, item_id):
        """Catalog items use their indexed embedding; an unknown id gets the OOV embedding with no content."""
        position = self._position(item_id)
        no_text = tf.fill(tf.shape(item_id), "")
        from_tower = self._embed_items({F.ITEM_ID: item_id, F.TITLE: no_text, F.TEXT: no_text,
                                        F.GENRES: tf.expand_dims(no_text, 1)})
        indexed = tf.gather(self.item_embeddings_index, tf.maximum(position, 0))
        return tf.where(tf.expand_dims(position >= 0, 1), indexed, from_tower)

    def _top_k(self, queries, excluded_ids):
        scores = tf.matmul(queries, self.item_embeddings_index, transpose_b=True)
        excluded = excluded_mask(self._position(excluded_ids), self._num_items)
        scores = tf.where(excluded, tf.constant(-np.inf, scores.dtype), scores)
        top = tf.math.top_k(scores, k=self.top_k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    # ---- signatures ------------------------------------------------------------------------------------------------
    @tf.function(input_signature=[STRING, STRING_MATRIX])
    def serve(self, user_id, history):
        return self._top_k(self._queries(user_id, history), history)

    @tf.function(input_signature=[STRING, STRING_MATRIX, STRING_MATRIX])
    def recommend(self, user_id, history, exclude):
        return self._top_k(self._queries(user_id, history), tf.concat([history, exclude], axis=1))

    @tf.function(input_signature=[STRING])
    def similar_items(self, item_id):
        return self._top_k(self._item_vectors(item_id), tf.expand_dims(item_id, 1))

    @tf.function(input_signature=[STRING])
    def item_embeddings(self, item_id):
        return {"embedding": self._item_vectors(item_id)}

    @tf.function(input_signature=[STRING])
    def item_titles(self, item_id):
        position = self._position(item_id)
        titles = tf.gather(self.titles, tf.maximum(position, 0))
        return {"title": tf.where(position >= 0, titles, "")}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def evaluate(self, examples):
        raw = tf.io.parse_example(examples, {name: self.raw_feature_spec[name]
                                             for name in (F.USER_ID, F.ITEM_ID, F.HISTORY)})
        history = tf.sparse.to_dense(raw[F.HISTORY])
        queries = self._queries(tf.reshape(raw[F.USER_ID], [-1]), history)
        scores = tf.matmul(queries, self.item_embeddings_index, transpose_b=True)
        targets = tf.maximum(self._position(tf.reshape(raw[F.ITEM_ID], [-1])), 0)
        excluded = excluded_mask(self._position(history), self._num_items)
        return {"rank": target_ranks(scores, targets, excluded)}

    @tf.function(input_signature=[STRING, STRING, STRING_MATRIX, STRING, tf.TensorSpec([None, None], tf.float32)])
    def upsert_items(self, item_id, title, genres, text, text_embedding):
        """Catalog refresh without retraining: embed items from their content with the trained candidate tower;
        known ids are re-embedded in place, new ids are appended to the index. Ids must be unique in one call.
        text_embedding: the items' pretrained text embeddings (ignored by a model without content)."""
        if self.content is not None:
            self.content.upsert(item_id, text_embedding)
        embeddings = self._embed_items({F.ITEM_ID: item_id, F.TITLE: title, F.GENRES: genres, F.TEXT: text})
        position = self._position(item_id)
        is_new = position < 0
        new_ids = tf.boolean_mask(item_id, is_new)
        new_positions = self._num_items + tf.range(tf.size(new_ids, out_type=tf.int64))
        self.positions.insert(new_ids, new_positions)
        position = tf.tensor_scatter_nd_update(position, tf.where(is_new), new_positions)
        grown = tf.size(new_ids)
        rows = tf.expand_dims(position, 1)
        self.item_ids.assign(tf.concat([self.item_ids, new_ids], 0))
        self.titles.assign(tf.tensor_scatter_nd_update(tf.concat([self.titles, tf.fill([grown], "")], 0), rows, title))
        padded = tf.concat([self.item_embeddings_index, tf.zeros([grown, tf.shape(embeddings)[1]])], 0)
        self.item_embeddings_index.assign(tf.tensor_scatter_nd_update(padded, rows, embeddings))
        return {"positions": position}

    def _search_by_embedding(self, query_embedding):
        """Encoded free-text query -> items whose pretrained text embedding is closest to it."""
        vectors, present = self.content(self.item_ids)
        scores = tf.matmul(query_embedding, vectors["text"], transpose_b=True)
        scores = tf.where(tf.expand_dims(present[:, 0], 0), scores, tf.constant(-np.inf, scores.dtype))
        top = tf.math.top_k(scores, k=self.top_k)
        return {"item_ids": tf.gather(self.item_ids, top.indices), "scores": top.values}

    def signatures(self) -> dict:
        signatures = {
            "serving_default": self.serve.get_concrete_function(),
            "recommend": self.recommend.get_concrete_function(),
            "similar_items": self.similar_items.get_concrete_function(),
            "item_embeddings": self.item_embeddings.get_concrete_function(),
            "item_titles": self.item_titles.get_concrete_function(),
            "evaluate": self.evaluate.get_concrete_function(),
        }
        if self.content is not None:
            signatures["search_by_embedding"] = self.search_by_embedding.get_concrete_function()
        return signatures


TEXT_ENCODER_DIR = "assets.extra/text_encoder"
ENCODER_GRAPH = "encoder_graph.pb"


class TextEncoder(tf.Module):
    """The pretrained text encoder as its own SavedModel: strings [B] -> embedding [B, D]."""

    def __init__(self, embedder):
        super().__init__()
        self.embedder = embedder

    @tf.function(input_signature=[STRING])
    def encode(self, text):
        return {"embedding": self.embedder(text)}


def export(recommender: Recommender, path: str, text_embedder=None) -> None:
    tf.saved_model.save(recommender, path, signatures=recommender.signatures())
    if text_embedder is not None:
        encoder = TextEncoder(text_embedder)
        encoder_dir = Path(path) / TEXT_ENCODER_DIR
        tf.saved_model.save(encoder, str(encoder_dir), signatures={"serving_default": encoder.encode})
        # TFX's Pusher copies no file whose name starts with saved_model.pb except the top-level one.
        (encoder_dir / "saved_model.pb").rename(encoder_dir / ENCODER_GRAPH)


def load_text_encoder(model_dir: Path):
    """The text encoder saved beside a pushed model, or None for a model without content."""
    import tensorflow_text  # noqa: F401  (registers the tokenizer's ops before loading)

    path = Path(model_dir) / TEXT_ENCODER_DIR
    if not path.is_dir():
        return None
    view = Path(tempfile.mkdtemp(prefix="avrec-text-encoder-"))  # the SavedModel layout, as links
    for child in path.iterdir():
        (view / ("saved_model.pb" if child.name == ENCODER_GRAPH else child.name)).symlink_to(child.resolve())
    return tf.saved_model.load(str(view)).signatures["serving_default"]
