"""Baselines scored like the model: target ranks per evaluation example, then the reported metrics."""
from __future__ import annotations

import time
from typing import Iterable

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.models.baselines.batch import EvalBatch
from avrec.models.metrics import PROTOCOLS, ranking_metrics, recall_curve, target_ranks

# Reported for warm examples (every baseline is reported for cold-start examples).
WARM = ("popularity", "recent_popularity", "itemknn", "ease", "sasrec")
# Slices reported beside the warm examples, by target group (avrec.features.TARGET_GROUPS): the warm items trained
# on few times, and the cold items (cold examples without a history are counted, never scored).
REPORTED_SLICES = ("few", "cold")


def baseline_ranks(baselines: list, batches: Iterable[tuple[EvalBatch, np.ndarray]],
                   seconds: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Target ranks of every example of the batches ((EvalBatch, target positions)) under each baseline; the
    seconds each spends scoring are added to `seconds`."""
    ranks = {baseline.name: [] for baseline in baselines}
    seconds = {} if seconds is None else seconds
    for batch, targets in batches:
        excluded = tf.constant(batch.histories.toarray() > 0)
        for baseline in baselines:
            started = time.monotonic()
            scores = tf.constant(baseline.scores(batch), tf.float32)
            ranks[baseline.name].append(target_ranks(scores, tf.constant(targets), excluded).numpy())
            seconds[baseline.name] = seconds.get(baseline.name, 0.0) + time.monotonic() - started
    return {name: np.concatenate(parts) if parts else np.zeros(0, np.float32) for name, parts in ranks.items()}


def _metrics(next_ranks: np.ndarray, future_ranks: np.ndarray) -> dict[str, float]:
    return {**ranking_metrics(next_ranks), **ranking_metrics(future_ranks, PROTOCOLS["future"])}


def baseline_metrics(ranks: dict[str, np.ndarray], future_ranks: dict[str, np.ndarray], groups: np.ndarray) -> dict:
    """Warm examples (many and few) for the warm baselines; a section for each of REPORTED_SLICES the examples'
    target groups hold: the warm baselines on `few`, every baseline on `cold`. Both protocols' metrics per method
    (future ones prefixed), and under `curves` each part's next-item Recall@K curve per method."""
    groups = np.asarray(groups)
    parts = {"warm": np.isin(groups, ("many", "few")), **{part: groups == part for part in REPORTED_SLICES}}
    document, curves = {}, {}
    for part, chosen in parts.items():
        if part != "warm" and not chosen.any():
            continue
        methods = [name for name in ranks if part == "cold" or name in WARM]
        values = {name: _metrics(ranks[name][chosen], future_ranks[name][chosen]) for name in methods}
        curves[part] = {name: recall_curve(ranks[name][chosen]) for name in methods}
        if part == "warm":
            document.update(values)
        else:
            document[part] = values
    return {**document, "curves": curves}
