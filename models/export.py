"""The exported SavedModel: raw request features in, top-K over the full catalog out (avrec.contract).

The Transform graph, both towers and the item index (every catalog item's embedding) are baked in, so TF Serving
needs nothing else. `upsert_items` (a saved function, not a signature) adds or re-embeds catalog items from content:
see refresh.py. History items are excluded from recommendations. Unknown users and items map to the OOV embeddings:
never an error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec import contract
from avrec import features as F
from avrec.features import MODALITIES
from avrec.models import preprocessing as P
from avrec.models.content_path import ContentPath
from avrec.models.index import ItemIndex
from avrec.models.layers import recent
from avrec.models.metrics import target_ranks
from avrec.models.towers import history_vectors

STRING = tf.TensorSpec([None], tf.string)
STRING_MATRIX = tf.TensorSpec([None, None], tf.string)


def as_raw(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """Request tensors -> the shapes the Transform graph was traced with ([B, 1] or sparse)."""
    if isinstance(spec, tf.io.VarLenFeature):
        return tf.sparse.from_dense(values)  # "" padding becomes absent
    return tf.reshape(values, [-1, 1])


class Recommender(tf.Module):
    def __init__(self, model, transform_layer, raw_feature_spec: Mapping, titles, top_k: int,
                 content_path: ContentPath | None = None):
        """model: the trained TwoTowerModel; titles: its catalog's titles, in catalog order; content_path: in catalog
        order, read into every score (models.content_path)."""
        super().__init__()
        self.content_path = content_path
        self.content = model.candidate_tower.content
        if self.content is not None:  # saving traces every tf.function, so define search only where it can work
            self.search_by_embedding = tf.function(
                self._search_by_embedding, input_signature=[tf.TensorSpec([None, None], tf.float32)])
        self.query_tower = model.query_tower
        self.candidate_tower = model.candidate_tower
        self.history_length = model.config.history_length
        self.transform_layer = transform_layer
        self.raw_feature_spec = dict(raw_feature_spec)
        table, unknown = model.item_table(training=False)
        self.top_k = min(top_k, int(table.shape[0]))
        self.unknown = tf.Variable(unknown, trainable=False, name="unknown_item")
        self.index = ItemIndex(model.catalog.features[P.ITEM_KEY], table, titles)
        # The trained catalog embedded with each pretrained modality toggled in turn, for `evaluate`'s ablation.
        self.ablated = {}
        if self.content is not None:
            keep = model.candidate_tower.modality_keep.numpy()
            for number, modality in enumerate(MODALITIES):
                table, unknown = model.item_table(training=False, keep=keep ^ (np.arange(len(keep)) == number))
                self.ablated[modality] = [tf.Variable(table, trainable=False), tf.Variable(unknown, trainable=False)]

    # ---- building blocks -------------------------------------------------------------------------------------------
    def _transform(self, raw: Mapping[str, tf.Tensor]):
        return self.transform_layer({name: as_raw(value, self.raw_feature_spec[name]) for name, value in raw.items()})

    def _embed_items(self, raw_content) -> tf.Tensor:
        return self.candidate_tower(self._transform(raw_content), training=False)

    def _history_rows(self, history):
        """history [B, T], oldest first, "" where absent -> (index rows [B, W] of its most recent items, -1 where the
        index lacks one; present [B, W]). Read through the index, an item added by a catalog refresh is read with
        its own vector."""
        keys = recent(history, self.history_length, P.HISTORY_PAD)
        return self.index.rows.lookup(keys), keys != P.HISTORY_PAD

    def _scores(self, user_id, history, table=None, unknown=None, path=True):
        """[B, N] scores of every indexed item; an id the index lacks reads as unknown. table, unknown: other item
        vectors in index order (an ablation; rows past them read as unknown); path: whether the content path reads
        the history (models.content_path; off or absent: the towers alone)."""
        ablated = table is not None
        table = table if ablated else self.index.embeddings
        unknown = self.unknown if unknown is None else unknown
        history_rows, present = self._history_rows(history)
        rows = tf.where(history_rows < tf.shape(table, out_type=history_rows.dtype)[0], history_rows, -1)
        vectors = history_vectors(table, rows, present, unknown)
        queries = self.query_tower(self._transform({F.USER_ID: user_id}), vectors, present, training=False)
        scores = tf.matmul(queries, table, transpose_b=True) if ablated else self.index.scores(queries)
        if not path or self.content_path is None:
            return scores
        return self.content_path.apply(scores, history_rows, present)

    def _ranks(self, user_id, history, targets, table=None, unknown=None, path=True):
        scores = self._scores(user_id, history, table, unknown, path)
        excluded = self.index.excluded(history)[:, :tf.shape(scores)[1]]
        return target_ranks(scores, tf.where(targets < tf.shape(scores, out_type=targets.dtype)[1], targets, -1),
                            excluded)

    def _item_vectors(self, item_id):
        """Catalog items use their indexed embedding; an unknown id gets the OOV embedding with no content."""
        indexed, known = self.index.embeddings_of(item_id)
        return tf.where(tf.expand_dims(known, 1), indexed, self.unknown)

    # ---- signatures ------------------------------------------------------------------------------------------------
    @tf.function(input_signature=[STRING, STRING_MATRIX])
    def serve(self, user_id, history):
        return self.index.top_k(self._scores(user_id, history), history, self.top_k)

    @tf.function(input_signature=[STRING, STRING_MATRIX, STRING_MATRIX])
    def recommend(self, user_id, history, exclude):
        return self.index.top_k(self._scores(user_id, history), tf.concat([history, exclude], axis=1), self.top_k)

    @tf.function(input_signature=[STRING])
    def similar_items(self, item_id):
        return self.index.top_k(self.index.scores(self._item_vectors(item_id), cosine=True),
                                tf.expand_dims(item_id, 1), self.top_k)

    @tf.function(input_signature=[STRING])
    def item_embeddings(self, item_id):
        return {contract.EMBEDDING: self._item_vectors(item_id)}

    @tf.function(input_signature=[STRING])
    def item_titles(self, item_id):
        return {contract.TITLE: self.index.titles_of(item_id)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contract.EXAMPLES)])
    def evaluate(self, examples):
        """The target's rank from the whole history (next item), from the history before the user's evaluation
        period (future: nothing evaluated is fed back), and with each pretrained modality toggled (ablation, next
        item, over the trained catalog)."""
        raw = tf.io.parse_example(examples, {name: self.raw_feature_spec[name]
                                             for name in (F.USER_ID, F.ITEM_ID, F.HISTORY, F.HORIZON)})
        history = tf.sparse.to_dense(raw[F.HISTORY])
        before = tf.where(tf.range(tf.shape(history)[1])[tf.newaxis] < tf.cast(raw[F.HORIZON], tf.int32),
                          history, P.HISTORY_PAD)
        users = tf.reshape(raw[F.USER_ID], [-1])
        targets = self.index.rows.lookup(tf.reshape(raw[F.ITEM_ID], [-1]))
        ablations = {contract.ablation_rank(modality): self._ranks(users, history, targets, *tables,
                                                                   path=modality != "text")
                     for modality, tables in self.ablated.items()}
        return {contract.RANK: self._ranks(users, history, targets),
                contract.FUTURE_RANK: self._ranks(users, before, targets),
                **ablations}

    @tf.function(input_signature=[STRING, STRING, STRING_MATRIX, STRING, tf.TensorSpec([None, None], tf.float32)])
    def upsert_items(self, item_id, title, genres, text, text_embedding):
        """Catalog refresh without retraining: embed items from their content with the trained candidate tower;
        known ids are re-embedded in place, new ids are appended to the index. Ids must be unique in one call.
        text_embedding: the items' pretrained text embeddings (ignored by a model without content)."""
        if self.content is not None:
            self.content.upsert(item_id, text_embedding)
        embeddings = self._embed_items({F.ITEM_ID: item_id, F.TITLE: title, F.GENRES: genres, F.TEXT: text})
        positions = self.index.upsert(item_id, embeddings, title)
        if self.content_path is not None:  # a new item joins the path as a cold one
            self.content_path.upsert(positions, text_embedding, self.index.rows.size())
        return {"positions": positions}

    def _search_by_embedding(self, query_embedding):
        """Encoded free-text query -> items whose pretrained text embedding is closest to it."""
        vectors, present = self.content(self.index.item_ids)
        scores = tf.matmul(query_embedding, vectors["text"], transpose_b=True)
        scores = tf.where(tf.expand_dims(present[:, 0], 0), scores, tf.constant(-np.inf, scores.dtype))
        top = tf.math.top_k(scores, k=self.top_k)
        return {contract.ITEM_IDS: tf.gather(self.index.item_ids, top.indices), contract.SCORES: top.values}

    def signatures(self) -> dict:
        signatures = {
            contract.SERVING_DEFAULT: self.serve.get_concrete_function(),
            contract.RECOMMEND: self.recommend.get_concrete_function(),
            contract.SIMILAR_ITEMS: self.similar_items.get_concrete_function(),
            contract.ITEM_EMBEDDINGS: self.item_embeddings.get_concrete_function(),
            contract.ITEM_TITLES: self.item_titles.get_concrete_function(),
            contract.EVALUATE: self.evaluate.get_concrete_function(),
        }
        if self.content is not None:
            signatures[contract.SEARCH_BY_EMBEDDING] = self.search_by_embedding.get_concrete_function()
        return signatures


class TextEncoder(tf.Module):
    """The pretrained text encoder as its own SavedModel: strings [B] -> embedding [B, D]."""

    def __init__(self, embedder):
        super().__init__()
        self.embedder = embedder

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=contract.TEXT)])
    def encode(self, text):
        return {contract.EMBEDDING: self.embedder(text)}


def save_text_encoder(text_embedder, model_dir: str | Path) -> None:
    """Writes the text encoder beside a model (contract.TEXT_ENCODER_DIR)."""
    encoder = TextEncoder(text_embedder)
    encoder_dir = Path(model_dir) / contract.TEXT_ENCODER_DIR
    tf.saved_model.save(encoder, str(encoder_dir), signatures={contract.SERVING_DEFAULT: encoder.encode})
    # TFX's Pusher copies no file whose name starts with saved_model.pb except the top-level one.
    (encoder_dir / "saved_model.pb").rename(encoder_dir / contract.TEXT_ENCODER_GRAPH)


def export(recommender: Recommender, path: str, text_embedder=None) -> None:
    tf.saved_model.save(recommender, path, signatures=recommender.signatures())
    if text_embedder is not None:
        save_text_encoder(text_embedder, path)
