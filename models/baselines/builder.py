"""Which baselines a run fits, from EvalConfig: each within its budget, the seconds each takes to fit, and why any
is skipped (a catalog too large for EASE's inverse or SASRec's full softmax, no content embeddings)."""
from __future__ import annotations

import time

import numpy as np

from avrec.config import EvalConfig
from avrec.models.baselines.batch import EvalBatch
from avrec.models.baselines.content_only import ContentOnly
from avrec.models.baselines.ease import LAMBDAS, Ease
from avrec.models.baselines.interactions import incidence
from avrec.models.baselines.itemknn import ItemKnn
from avrec.models.baselines.popularity import Popularity
from avrec.models.baselines.random_scores import RandomScores
from avrec.models.baselines.ranks import baseline_ranks
from avrec.models.baselines.recent_popularity import RecentPopularity
from avrec.models.baselines.sasrec import SasRec
from avrec.models.metrics import ranking_metrics

# EASE's regularization is validated only where the inverses are cheap; larger catalogs use the middle value.
EASE_VALIDATED_ITEMS = 8000
VALIDATION_BATCH = 512


def _ease(train: dict, num_items: int) -> Ease:
    """EASE with the regularization of best validation Recall@10 (each sampled user's last training item)."""
    sequences = [s for s in train["sequences"] if len(s) >= 2]
    if num_items > EASE_VALIDATED_ITEMS or not sequences:
        return Ease(train["knn"].user_item(), LAMBDAS[len(LAMBDAS) // 2])
    histories = [s[:-1] for s in sequences]
    without_last = incidence(histories, num_items)
    targets = np.array([s[-1] for s in sequences], np.int64)
    batches = [(EvalBatch(without_last[start:start + VALIDATION_BATCH], histories[start:start + VALIDATION_BATCH],
                          np.zeros(len(histories[start:start + VALIDATION_BATCH]), np.int64)),
                targets[start:start + VALIDATION_BATCH]) for start in range(0, len(histories), VALIDATION_BATCH)]
    best = None
    for regularization in LAMBDAS:
        ranks = baseline_ranks([Ease(without_last, regularization)], batches)[Ease.name]
        recall = ranking_metrics(ranks)["recall@10"]
        if best is None or recall > best[0]:
            best = (recall, regularization)
    return Ease(train["knn"].user_item(), best[1])


def build_baselines(config: EvalConfig, train: dict, first_day: int, item_text: np.ndarray | None,
                    seconds: dict[str, float]) -> tuple[list, dict[str, str]]:
    """The configured baselines fitted on `train` (components.score_baselines.training_summary); the seconds each
    took go to `seconds`; returns them and {name: why skipped}."""
    num_items = len(train["counts"])
    interactions = sum(len(s) for s in train["sequences"])
    skipped = {}
    fits = {
        "popularity": lambda: Popularity(train["counts"]),
        "recent_popularity": lambda: RecentPopularity(train["days"], first_day, config.recent_popularity_days),
        "itemknn": lambda: ItemKnn(train["knn"]),
        "random": lambda: RandomScores(num_items),
    }
    if num_items <= config.ease_max_items:
        fits["ease"] = lambda: _ease(train, num_items)
    else:
        skipped["ease"] = (f"the catalog's {num_items} items exceed ease_max_items={config.ease_max_items} "
                           "(an items x items inverse)")
    cost = num_items * interactions  # a full-softmax epoch's work
    if cost <= config.sasrec_budget:
        fits["sasrec"] = lambda: SasRec(train["sequences"], num_items)
    else:
        skipped["sasrec"] = (f"its full softmax over {num_items} items x {interactions} training interactions "
                             f"({cost:.2g} an epoch) exceeds sasrec_budget={config.sasrec_budget:.2g}")
    if item_text is not None:
        fits["content_only"] = lambda: ContentOnly(item_text)
    elif "content_only" in config.baselines:
        skipped["content_only"] = "the run has no content embeddings (--no-content)"
    baselines = []
    for name in config.baselines:
        if name in fits:
            started = time.monotonic()
            baselines.append(fits[name]())
            seconds[name] = time.monotonic() - started
    return baselines, {name: reason for name, reason in skipped.items() if name in config.baselines}
