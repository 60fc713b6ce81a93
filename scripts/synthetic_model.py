"""A random-embedding recommender exported with the serving contract's signatures (avrec.contract).

    python scripts/synthetic_model.py --items 1000000 --out /models/avrec/1

Load tests of a TF Serving deployment, the serving benchmark and the server's tests need SavedModels that follow the
contract the pipeline's pusher writes without training one: this builds them from random embeddings of any catalog
size, and keeps the embeddings so that callers can check the served answers against their own numpy computation.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec import contract
from avrec.config import ModelConfig
from avrec.models.content_path import ContentPath


@dataclasses.dataclass(frozen=True)
class SyntheticCatalog:
    """Item and user ids with embeddings; a user's query is their embedding plus the mean of their history's."""

    item_ids: np.ndarray  # str [N]
    item_embeddings: np.ndarray  # float32 [N, D]
    user_ids: np.ndarray  # str [U]
    user_embeddings: np.ndarray  # float32 [U, D]
    item_titles: np.ndarray | None = None  # str [N]: exported as the optional item_titles signature
    item_text: np.ndarray | None = None  # float32 [N, T]: served through a content path (models.content_path)

    @classmethod
    def random(cls, num_items: int, num_users: int = 100, dim: int = 16, seed: int = 0,
               titles: bool = False, text_dim: int = 0) -> "SyntheticCatalog":
        rng = np.random.default_rng(seed)
        return cls(item_ids=np.array([f"i{n}" for n in range(num_items)]),
                   item_embeddings=rng.standard_normal((num_items, dim), dtype=np.float32),
                   user_ids=np.array([f"u{n}" for n in range(num_users)]),
                   user_embeddings=rng.standard_normal((num_users, dim), dtype=np.float32),
                   item_titles=np.array([f"Title {n}" for n in range(num_items)]) if titles else None,
                   item_text=rng.standard_normal((num_items, text_dim), dtype=np.float32) if text_dim else None)

    def content_path(self, text_dim: int = ModelConfig().content_path_text_dim) -> ContentPath | None:
        """With item text: a content path as a fit leaves one on a short-history catalog (a tenth of the items cold,
        a fifth trained on a few times; the cold component and the few items' two-sided path on), so that serving
        pays for every pass a trained model's requests make."""
        if self.item_text is None:
            return None
        share = np.random.default_rng(len(self.item_ids)).random(len(self.item_ids))
        buckets = np.where(share < 0.1, 0, np.where(share < 0.3, 1, 2))
        return ContentPath(self.item_text, buckets, weights=(0.0, 1.3), thresholds=(0.0, 1.0), half_life=1.0,
                           scales=(1.0, 0.8), cold=(1.0, 1.5, 0.75, -0.5), text_dim=text_dim)

    @property
    def cold_start_query(self) -> np.ndarray:
        """What an unknown user with no history is scored with: the catalog's mean direction (popular-ish items)."""
        return self.item_embeddings.mean(axis=0)

    def save_model(self, path: str | Path, k: int = 100) -> Path:
        """Export a TF2 SavedModel with the serving contract's signatures and top-`k` outputs to `path`."""
        if not 1 <= k <= len(self.item_ids):
            raise ValueError(f"k must be between 1 and the catalog size {len(self.item_ids)}, got {k}")
        module = _ContractModule(self, k)
        signatures = {contract.SERVING_DEFAULT: module.serving_default, contract.RECOMMEND: module.recommend,
                      contract.SIMILAR_ITEMS: module.similar_items, contract.ITEM_EMBEDDINGS: module.embeddings}
        if self.item_titles is not None:
            signatures[contract.ITEM_TITLES] = module.titles
        tf.saved_model.save(module, str(path), signatures=signatures)
        return Path(path)


def _lookup_table(keys: np.ndarray) -> tf.lookup.StaticHashTable:
    initializer = tf.lookup.KeyValueTensorInitializer(tf.constant(keys.astype(object)),
                                                      tf.range(len(keys), dtype=tf.int64))
    return tf.lookup.StaticHashTable(initializer, default_value=-1)


_STRING_ROWS = tf.TensorSpec([None], tf.string)
_STRING_MATRIX = tf.TensorSpec([None, None], tf.string)


class _ContractModule(tf.Module):
    def __init__(self, catalog: SyntheticCatalog, k: int):
        super().__init__()
        self.k = k
        self.items = tf.Variable(catalog.item_ids.astype(object), dtype=tf.string, trainable=False)
        self.item_vectors = tf.Variable(catalog.item_embeddings, trainable=False)
        self.user_vectors = tf.Variable(catalog.user_embeddings, trainable=False)
        self.cold_start = tf.Variable(catalog.cold_start_query, trainable=False)
        self.item_index = _lookup_table(catalog.item_ids)
        self.content_path = catalog.content_path()
        self.user_index = _lookup_table(catalog.user_ids)
        if catalog.item_titles is not None:  # saving traces every tf.function attribute: add this one only here
            self.item_titles = tf.Variable(catalog.item_titles.astype(object), dtype=tf.string, trainable=False)
            self.titles = tf.function(self._titles, input_signature=[_STRING_ROWS])

    def _vectors(self, index: tf.Tensor, table: tf.Variable) -> tf.Tensor:
        """Embeddings of looked-up indices; unknown ids (-1, padding included) get zeros."""
        known = tf.cast(index >= 0, tf.float32)[..., tf.newaxis]
        return tf.gather(table, tf.maximum(index, 0)) * known

    def _top_k(self, query: tf.Tensor, excluded: tf.Tensor, history: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """Top-k items by dot product (through the content path, with the history's catalog indices [B, L], where
        there is one), with `excluded` catalog indices ([B, M], -1 = none) scored -inf."""
        scores = tf.matmul(query, self.item_vectors, transpose_b=True)
        if self.content_path is not None and history is not None:
            scores = self.content_path.apply(scores, history, history >= 0)
        rows = tf.repeat(tf.range(tf.shape(excluded, out_type=tf.int64)[0]), tf.shape(excluded)[1])
        columns = tf.reshape(excluded, [-1])
        valid = columns >= 0
        positions = tf.stack([tf.boolean_mask(rows, valid), tf.boolean_mask(columns, valid)], axis=1)
        scores = tf.tensor_scatter_nd_update(scores, positions,
                                             tf.fill(tf.shape(positions)[:1], tf.constant(-np.inf, tf.float32)))
        top = tf.math.top_k(scores, k=self.k)
        return {contract.ITEM_IDS: tf.gather(self.items, top.indices), contract.SCORES: top.values}

    def _recommend(self, user_id: tf.Tensor, history: tf.Tensor, exclude: tf.Tensor) -> dict[str, tf.Tensor]:
        user_index = self.user_index.lookup(user_id)
        history_index = self.item_index.lookup(history)
        count = tf.reduce_sum(tf.cast(history_index >= 0, tf.float32), axis=1, keepdims=True)
        query = (self._vectors(user_index, self.user_vectors)
                 + tf.reduce_sum(self._vectors(history_index, self.item_vectors), axis=1) / tf.maximum(count, 1.0))
        cold = (user_index < 0) & (count[:, 0] == 0)
        query = tf.where(cold[:, tf.newaxis], self.cold_start[tf.newaxis, :], query)
        return self._top_k(query, tf.concat([history_index, self.item_index.lookup(exclude)], axis=1), history_index)

    @tf.function(input_signature=[_STRING_ROWS, _STRING_MATRIX])
    def serving_default(self, user_id, history):
        return self._recommend(user_id, history, tf.zeros([tf.shape(user_id)[0], 0], tf.string))

    @tf.function(input_signature=[_STRING_ROWS, _STRING_MATRIX, _STRING_MATRIX])
    def recommend(self, user_id, history, exclude):
        return self._recommend(user_id, history, exclude)

    @tf.function(input_signature=[_STRING_ROWS])
    def similar_items(self, item_id):
        index = self.item_index.lookup(item_id)
        query = tf.where((index >= 0)[:, tf.newaxis], self._vectors(index, self.item_vectors),
                         self.cold_start[tf.newaxis, :])
        return self._top_k(query, index[:, tf.newaxis])

    @tf.function(input_signature=[_STRING_ROWS])
    def embeddings(self, item_id):
        return {contract.EMBEDDING: self._vectors(self.item_index.lookup(item_id), self.item_vectors)}

    def _titles(self, item_id):
        index = self.item_index.lookup(item_id)
        return {contract.TITLE: tf.where(index >= 0, tf.gather(self.item_titles, tf.maximum(index, 0)),
                                         contract.PADDING)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, required=True, help="catalog size")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--k", type=int, default=contract.DEFAULT_TOP_K)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--text-dim", type=int, default=0, help="item text size: with it, a content path (0: none)")
    parser.add_argument("--out", type=Path, required=True, help="the version directory to write")
    args = parser.parse_args(argv)
    SyntheticCatalog.random(args.items, args.users, args.dim, args.seed, titles=True,
                            text_dim=args.text_dim).save_model(args.out, args.k)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
