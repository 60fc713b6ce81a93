"""A component that scores the baselines on the eval split, beside the model: popularity and item-kNN on warm
examples; on cold-start examples also random and, given the catalog's content embeddings, content-only.

It streams the training examples of the window (the newest span's and the older spans' that the SpanWindow names)
and holds only what grows with the vocabularies: item counts, the interactions of at most `baseline_train_users`
users (a sample by a hash of the user id) for item-kNN, and at most `baseline_eval_examples` evaluation examples (the
ones whose hash is lowest). The sample sizes are reported beside the metrics.
"""

import hashlib
import heapq
import json
import os

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec import features as F
from avrec.components.artifacts import BaselineMetrics, ContentEmbeddings, SpanWindow, split_files
from avrec.components.window_transform import window_examples
from avrec.config import EvalConfig
from avrec.data.embeddings import read_content
from avrec.data.examples import iter_examples, read_examples
from avrec.data.split import EVAL, TRAIN
from avrec.models.baselines.interactions import TrainingInteractions, positions
from avrec.models.baselines.ranks import baseline_metrics, baseline_ranks

METRICS_FILE = "metrics.json"


def read_baseline_metrics(artifact_uri: str) -> dict:
    with open(os.path.join(artifact_uri, METRICS_FILE)) as handle:
        return json.load(handle)


def _hash(*parts: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b"\0".join(parts), digest_size=8).digest(), "little")


def _train_ids(patterns: list[str]):
    for batch in iter_examples(patterns, F.feature_spec((F.USER_ID, F.ITEM_ID))):
        yield batch[F.USER_ID].numpy(), batch[F.ITEM_ID].numpy()


def training_summary(patterns: list[str], index: dict[bytes, int], max_users: int):
    """(training interactions per item, the interactions of the max_users users of lowest hash, users in all)."""
    users = set()
    for batch_users, _ in _train_ids(patterns):
        users.update(batch_users.tolist())
    sampled = set(heapq.nsmallest(max_users, users, key=_hash))
    counts = np.zeros(len(index), np.float32)
    kept_users, kept_items = [], []
    for batch_users, batch_items in _train_ids(patterns):
        items = positions(batch_items, index)
        counts += np.bincount(items[items >= 0], minlength=len(index))
        keep = np.array([user in sampled for user in batch_users.tolist()], dtype=bool)
        kept_users.append(batch_users[keep])
        kept_items.append(items[keep])
    _, user_rows = np.unique(np.concatenate(kept_users) if kept_users else np.zeros(0, object), return_inverse=True)
    knn = TrainingInteractions(user_rows.astype(np.int64), np.concatenate(kept_items) if kept_items
                               else np.zeros(0, np.int64), len(index))
    return counts, knn, len(users)


def evaluation_sample(pattern: str, index: dict[bytes, int], max_examples: int):
    """(targets, histories, cold flags) of the max_examples eval examples of lowest hash, and the examples in all."""
    heap, total = [], 0
    spec = F.feature_spec((F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY, F.COLD))
    for batch in iter_examples(pattern, spec):
        histories = batch[F.HISTORY].to_list()
        for user, item, timestamp, history, cold in zip(batch[F.USER_ID].numpy(), batch[F.ITEM_ID].numpy(),
                                                        batch[F.TIMESTAMP].numpy(), histories,
                                                        batch[F.COLD].numpy()):
            total += 1
            entry = (-_hash(user, item, str(timestamp).encode()), item, tuple(history), int(cold))
            if len(heap) < max_examples:
                heapq.heappush(heap, entry)
            elif entry > heap[0]:
                heapq.heapreplace(heap, entry)
    entries = sorted(heap, reverse=True)
    return (positions([item for _, item, _, _ in entries], index),
            [positions(history, index) for _, _, history, _ in entries],
            np.array([cold for *_, cold in entries], dtype=bool), total)


@tfx.dsl.components.component
def Baselines(examples: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              window: tfx.dsl.components.InputArtifact[SpanWindow],
              catalog: tfx.dsl.components.InputArtifact[standard_artifacts.Examples],
              metrics: tfx.dsl.components.OutputArtifact[BaselineMetrics],
              eval_config: tfx.dsl.components.Parameter[str],
              code: tfx.dsl.components.Parameter[str],
              content: tfx.dsl.components.InputArtifact[ContentEmbeddings] = None) -> None:
    """eval_config: EvalConfig as JSON; code: the fingerprint of this code (part of the cache key)."""
    del code
    config = EvalConfig.from_json(eval_config)
    catalog_ids = read_examples(split_files(catalog), F.feature_spec((F.ITEM_ID,)))[F.ITEM_ID].numpy()
    index = {item: position for position, item in enumerate(catalog_ids)}
    spans = window_examples(examples, window.uri)
    counts, knn, users = training_summary([split_files(span, TRAIN) for span in spans], index,
                                          config.baseline_train_users)
    targets, histories, cold, total = evaluation_sample(split_files(examples, EVAL), index,
                                                        config.baseline_eval_examples)
    item_text = None
    if content is not None:
        embedded = read_content(content.uri)
        item_text = embedded.text[embedded.rows_of(catalog_ids)]
    results = baseline_metrics(baseline_ranks(counts, knn, targets, histories, item_text), cold)
    results["sample"] = {"eval_examples": len(targets), "eval_examples_in_split": total,
                         "itemknn_train_users": int(knn.user_rows.max(initial=-1)) + 1, "train_users": users}
    with open(os.path.join(metrics.uri, METRICS_FILE), "w") as handle:
        json.dump(results, handle, indent=2)
