"""A component that scores the baselines on the eval split, beside the model (models/baselines/): popularity,
recency-aware popularity, item-kNN, EASE and the SASRec reference on warm examples; on cold-start examples also
random and, given the catalog's content embeddings, content-only. EvalConfig.baselines chooses which run.

It streams the training examples of the window (the newest span's and the older spans' that the SpanWindow names)
and holds only what grows with the vocabularies: item counts, daily counts for the days the examples look back over,
the interactions of at most `baseline_train_users` users (a sample by a hash of the user id) for item-kNN, EASE and
SASRec, and at most `baseline_eval_examples` evaluation examples (those whose hash is lowest). The sample sizes,
the seconds each baseline took and why any was skipped are written beside the metrics.
"""

import heapq
import json
import os
import time

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx.types import standard_artifacts

from avrec import features as F
from avrec.components.artifacts import BaselineMetrics, ContentEmbeddings, SpanWindow, split_files
from avrec.components.window_transform import window_examples
from avrec.config import EvalConfig
from avrec.data.embeddings import read_content
from avrec.data.examples import iter_examples, read_examples
from avrec.data.split import EVAL, TRAIN, example_hash, stable_hash
from avrec.models.baselines.batch import EvalBatch
from avrec.models.baselines.builder import build_baselines
from avrec.models.baselines.interactions import TrainingInteractions, incidence, positions
from avrec.models.baselines.ranks import baseline_metrics, baseline_ranks
from avrec.models.baselines.recent_popularity import DAY, daily_counts

METRICS_FILE = "metrics.json"
BATCH = 512


def read_baseline_metrics(artifact_uri: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(artifact_uri, METRICS_FILE)) as handle:
        return json.load(handle)


def evaluation_sample(pattern: str, index: dict[bytes, int], max_examples: int):
    """The max_examples eval examples of lowest hash as (target, history, timestamp, target group, horizon), and
    the count in all."""
    heap, total = [], 0
    spec = F.feature_spec((F.USER_ID, F.ITEM_ID, F.TIMESTAMP, F.HISTORY, F.TARGET_GROUP, F.HORIZON))
    for batch in iter_examples(pattern, spec):
        for user, item, timestamp, history, group, horizon in zip(
                batch[F.USER_ID].numpy(), batch[F.ITEM_ID].numpy(), batch[F.TIMESTAMP].numpy(),
                batch[F.HISTORY].to_list(), batch[F.TARGET_GROUP].numpy(), batch[F.HORIZON].numpy()):
            total += 1
            entry = (-example_hash(user, item, timestamp), item, tuple(history), int(timestamp),
                     group.decode(), int(horizon))
            if len(heap) < max_examples:
                heapq.heappush(heap, entry)
            elif entry > heap[0]:
                heapq.heapreplace(heap, entry)
    return [(index.get(item, -1), positions(history, index), timestamp, group, horizon)
            for _, item, history, timestamp, group, horizon in sorted(heap, reverse=True)], total


def _train_batches(patterns: list[str]):
    for batch in iter_examples(patterns, F.feature_spec((F.USER_ID, F.ITEM_ID, F.TIMESTAMP))):
        yield batch[F.USER_ID].numpy(), batch[F.ITEM_ID].numpy(), batch[F.TIMESTAMP].numpy()


def id_order(index: dict[bytes, int]) -> np.ndarray:
    """[N + 1]: each catalog position's rank by item id (the last entry, for position -1, ranks first). A user's
    items of one timestamp are ordered by id, as TimeSplit orders them (avrec.data.split): a sequential baseline that
    learned another order for them would be scored on histories and targets in the pipeline's."""
    ranks = np.zeros(len(index) + 1, np.int64)
    ranks[[index[item] for item in sorted(index)]] = np.arange(1, len(index) + 1)
    return ranks


def training_summary(patterns: list[str], index: dict[bytes, int], max_users: int, first_day: int,
                     num_days: int) -> dict:
    """Streams the training examples twice: item counts, daily counts and the sampled users' items, ordered as the
    pipeline orders them (by time, then id)."""
    users = set()
    for batch_users, _, _ in _train_batches(patterns):
        users.update(batch_users.tolist())
    sampled = {user: row for row, user in enumerate(sorted(heapq.nsmallest(max_users, users, key=stable_hash)))}
    counts = np.zeros(len(index), np.float32)
    days = daily_counts(np.zeros(0, np.int64), np.zeros(0, np.int64), len(index), first_day, num_days)
    kept = ([], [], [])
    for batch_users, batch_items, timestamps in _train_batches(patterns):
        items = positions(batch_items, index)
        counts += np.bincount(items[items >= 0], minlength=len(index))
        days = days + daily_counts(timestamps, items, len(index), first_day, num_days)
        rows = np.array([sampled.get(user, -1) for user in batch_users.tolist()], np.int64)
        keep = rows >= 0
        for part, values in zip(kept, (rows[keep], items[keep], timestamps[keep])):
            part.append(values)
    rows, items, timestamps = (np.concatenate(part) if part else np.zeros(0, np.int64) for part in kept)
    order = np.lexsort((id_order(index)[items], timestamps, rows))
    rows, items = rows[order], items[order]
    sequences = [items[start:end] for start, end in zip(*_runs(rows))]
    return {"counts": counts, "days": days, "knn": TrainingInteractions(rows, items, len(index)),
            "sequences": [s[s >= 0] for s in sequences], "users": len(users), "sampled_users": len(sampled)}


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the runs of equal values in sorted `rows`."""
    boundaries = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1], True]) if len(rows) else np.array([0])
    return boundaries[:-1], boundaries[1:]


def _batches(examples: list, num_items: int, future: bool = False):
    """Evaluation batches and their targets; `future`: each history cut at its horizon (the future protocol)."""
    for start in range(0, len(examples), BATCH):
        part = examples[start:start + BATCH]
        histories = [history[:horizon] if future else history for _, history, _, _, horizon in part]
        yield (EvalBatch(incidence(histories, num_items), histories,
                         np.array([timestamp for _, _, timestamp, _, _ in part], np.int64)),
               np.array([target for target, *_ in part], np.int64))


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
    sample, total = evaluation_sample(split_files(examples, EVAL), index, config.baseline_eval_examples)
    eval_days = [timestamp // DAY for _, _, timestamp, _, _ in sample] or [0]
    first_day = min(eval_days) - config.recent_popularity_days
    started = time.monotonic()
    train = training_summary([split_files(span, TRAIN) for span in window_examples(examples, window.uri)], index,
                             config.baseline_train_users, first_day, max(eval_days) - first_day + 1)
    seconds = {"streaming the training examples": time.monotonic() - started}
    item_text = None
    if content is not None:
        embedded = read_content(content.uri)
        item_text = embedded.text[embedded.rows_of(catalog_ids)]
    baselines, skipped = build_baselines(config, train, first_day, item_text, seconds)
    ranks = baseline_ranks(baselines, _batches(sample, len(index)), seconds)
    future = baseline_ranks(baselines, _batches(sample, len(index), future=True), seconds)
    results = baseline_metrics(ranks, future, np.array([group for _, _, _, group, _ in sample]))
    results["sample"] = {"eval_examples": len(sample), "eval_examples_in_split": total,
                         "train_users": train["users"], "sampled_train_users": train["sampled_users"]}
    results["seconds"] = {name: round(value, 2) for name, value in seconds.items()}
    results["skipped"] = skipped
    with tf.io.gfile.GFile(os.path.join(metrics.uri, METRICS_FILE), "w") as handle:
        json.dump(results, handle, indent=2)
