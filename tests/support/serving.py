"""Shared pieces of the serving tests: numpy answers to check served answers against, and pushing versions."""
from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import numpy as np

import avrec  # noqa: F401  (before TensorFlow)
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from avrec.config import ServingConfig
from synthetic_model import SyntheticCatalog

K = 10
MODEL = "avrec"
CATALOG_1 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=1, titles=True)
CATALOG_2 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=2)
CATALOG_3 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=3)
LOOPBACK = ServingConfig(host="127.0.0.1", rest_port=0, grpc_port=0, poll_seconds=0.2)


def expected_top_k(catalog: SyntheticCatalog, query: np.ndarray, excluded: list[str], k: int):
    """The contract's answer computed with numpy: ids and scores of the top-k dot products, `excluded` left out."""
    scores = catalog.item_embeddings @ query
    index = {item: n for n, item in enumerate(catalog.item_ids)}
    scores[[index[item] for item in excluded if item in index]] = -np.inf
    top = np.argsort(-scores, kind="stable")[:k]
    return [str(catalog.item_ids[n]) for n in top], scores[top]


def user_query(catalog: SyntheticCatalog, user: str, history: list[str]) -> np.ndarray:
    items = {item: n for n, item in enumerate(catalog.item_ids)}
    users = {name: n for n, name in enumerate(catalog.user_ids)}
    known = [catalog.item_embeddings[items[item]] for item in history if item in items]
    if user not in users and not known:
        return catalog.cold_start_query
    query = catalog.user_embeddings[users[user]] if user in users else np.zeros_like(catalog.cold_start_query)
    return query + (np.mean(known, axis=0) if known else 0)


def expected_recommend(catalog, user, history=(), k=K, exclude=()):
    return expected_top_k(catalog, user_query(catalog, user, list(history)), list(history) + list(exclude), k)


def assert_items(answer: list[tuple[str, float]], expected) -> None:
    ids, scores = expected
    assert [item for item, _ in answer] == ids
    np.testing.assert_allclose([score for _, score in answer], scores, rtol=1e-4, atol=1e-4)


def publish(catalog: SyntheticCatalog, model_dir: Path, version: int, k: int = K) -> Path:
    """Push a version the way a pusher should: write it aside, then rename it into place in one step."""
    staging = model_dir.parent / f".staging-{uuid.uuid4().hex}"
    catalog.save_model(staging, k=k)
    target = model_dir / str(version)
    os.rename(staging, target)
    return target


def tensor_proto(values, dtype=tf.string):
    return tf.make_tensor_proto(np.array(values, dtype=object if dtype == tf.string else None), dtype=dtype)


def predict_request(model=MODEL, signature="", version=None, label="", output_filter=(), **inputs):
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.model_spec.version_label = label
    if version is not None:
        request.model_spec.version.value = version
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    return request


class RequestLoop:
    """Sends one request after another from a thread while the block runs; every answer and failure is kept."""

    def __init__(self, call):
        self.call, self.answers, self.failures = call, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.append(self.call())
            except Exception as error:  # noqa: BLE001  (every failure is counted)
                self.failures.append(error)

    def __enter__(self) -> "RequestLoop":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
