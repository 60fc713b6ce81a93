"""Fitting the content path (models.content_path): the history half-life, the cold items' mixture component and the
few items' additive weight, threshold, side and scale, on the validation slice, never the evaluation split.

Each candidate re-ranks the slice's examples against the whole catalog, history excluded, as the evaluation ranks.
The trained items are cut by a hash of their id into COLD_FOLDS folds of SIMULATED_COLD_SHARE each; in turn, each
fold is read as cold throughout (bucket cold, see `cold_read`), and the hits of all folds add up. Each fold's catalog
holds as many cold items as one with that share of new releases, so a candidate is judged on cold targets competing
with other cold items as well as with warm ones, and one that floods the top with cold items costs the warm targets
what it would cost them in service. The folds cover every trained item, so each validation target is read cold once:
a recall of a few percent over a few hundred targets is mostly noise (two sessions' towers scored one fold's 296 cold
targets 0.0169 and 0.0068), and five folds (half the items) left a short-history fit about 20 cold hits at Recall@10
to choose among 200 cold points by. The catalog's items no training example or validation target holds are left out
(`_Slice`): they would stand among a fold's cold items and could never be hit.

For each half-life of a grid, the cold bucket is fitted first, then the few bucket: in each, the grid point with the
best score among those that keep the other targets' Recall@10, Recall@50 and NDCG@10 within `max_warm_drop`
(relative) of no path at all; the half-life whose fit scores best is kept, and no gain means no path. The cold
bucket's points are its mixture component's (models.content_path: sharpness, towers' weight, log prior); the few
bucket's are the additive path's (weight, threshold, side), and at the best half-life it is fitted again with its
towers' scores scaled down (SCALES), kept where it scores better: a lower level for the towers' unfamiliar items frees
top places that a steeper path then gives to the items whose text stands out.
The score is the mean over the fitted buckets of the geometric mean of Recall@10 and Recall@50: a path that lifts the
top ten by pushing the next forty out (or the reverse) is not a gain, and each cut-off counts by its relative change.
The bound holds NDCG@10 too: a cold item placed first costs a warm target more of it than of its recall (on a
short-history test split the additive path within a 2% recall bound cost the warm targets 4.2% of their NDCG@10).
The additive path's threshold is in standard deviations of the history's cosines, its weight a multiple of the spread
of the towers' scores, and the cold component is in logits, so one grid fits any model. Both sides are candidates
for the few bucket: a two-sided path also pushes down the bucket's items that do not stand out (where the towers
misplace them), a one-sided one leaves them where the towers put them.
A bucket with fewer than MIN_BUCKET_TARGETS distinct validation targets is not fitted: at a recall of a few percent,
the standard error over fewer examples is as large as any gain a candidate could show, and one fitted on that noise
moves items into everyone's top ten.

A simulated cold item is read as an unseen one is: the OOV id, each word of its own (that no other trained item
has) the OOV word, as an unseen item's own words never reach the vocabulary, and its categories and shared words.
(Read with nothing but the OOV id and its categories, every simulated item of a category tied, the towers ranked none
of them, the fit chose a steep weight on text alone, and served cold Recall@50 fell to 0.0188 against content
alone's 0.0503.) Its pretrained content is the one part of the read no choice makes true: left out (bare), the
towers' score of a simulated item lacks what the trained fusion makes of a new item's text, and three short-history
fits in a row gave the towers' score no weight among cold items, where the test split preferred 0.75; read in
(content), the shared layers learned those vectors from the item's own interactions, and the fit leaned on the
towers (sharpness 0.5, weight 1), serving cold items worse still. The truth lies between, so by default each fold is
read both ways and the hits of both add up (ModelConfig.content_path_cold_read).
"""
from __future__ import annotations

import itertools
import time
from typing import NamedTuple

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import MODALITIES
from avrec.models import preprocessing as P
from avrec.models.content_path import (BUCKETS, NO_COLD_COMPONENT, ContentPath, additive, interaction_buckets,
                                       mixture_logits, path_scores, trained_anchor)
from avrec.models.index import excluded_mask

SIMULATED_COLD_SHARE = 0.1
COLD_FOLDS = 10  # 1 / SIMULATED_COLD_SHARE: every trained item in one fold
HASH_BUCKETS = 10_000
# The few bucket's additive candidates: weights in standard deviations of the towers' scores; thresholds in standard
# deviations of a history's cosines with the catalog (the few items of a catalog that stand out lie 2 to 5 above its
# mean); history half-lives in history items (0: a plain mean).
WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0)
THRESHOLDS = tuple(np.arange(-1.0, 6.01, 0.5))
# One-sided: only the items that stand out gain, so a steeper weight is safe. Thresholds below 1.5 would lift much of
# the catalog, as a two-sided path does.
ONE_SIDED_WEIGHTS = (*WEIGHTS, 16.0)
ONE_SIDED_THRESHOLDS = tuple(np.arange(1.5, 5.01, 0.5))
GRID = ([(weight, threshold, 0.0) for weight, threshold in itertools.product(WEIGHTS, THRESHOLDS)]
        + [(weight, threshold, 1.0)
           for weight, threshold in itertools.product(ONE_SIDED_WEIGHTS, ONE_SIDED_THRESHOLDS)])
SCALES = (0.8, 0.6)  # of the few bucket's towers' scores, tried below 1 at the best half-life
# The cold component's candidates: sharpness in logits per standard deviation of affinity; the towers' logit's weight
# among the cold items; log prior of an average cold item against an average trained item. On short-history test
# splits the best points lay at sharpness 1 to 2, weight 0.5 to 1 and prior -0.5 to 0.7. Each signal keeps a part:
# among a test split's cold items, a cold target ranked in the top 10 for 6.6% of examples by text alone, 8.2% by the
# towers alone and 10.1% by both. Validation's simulated cold items (trained items read cold) misjudge the towers'
# part: fits chose text alone (weight 0) or nearly the towers alone (sharpness 0.5, weight 1). One model's test split
# served cold Recall@10 0.0172 at (1.5, 0, 0.5) as fitted, 0.0196 at (1.5, 0.5, -0.5) for the same warm Recall@10.
COLD_GRID = list(itertools.product((1.0, 1.5, 2.0, 3.0), (1.0, 0.75, 0.5),
                                   (2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -3.0)))
HALF_LIVES = (0.0, 1.0, 2.0)
TOPS = (10, 50)  # the cut-offs the fit scores: Recall@10 and Recall@50; it bounds them and NDCG@10
MIN_BUCKET_TARGETS = 100


def cold_folds(item_keys: tf.Tensor, buckets: np.ndarray) -> np.ndarray:
    """[N]: the fold that reads each item as cold, -1 for none (untrained items, and those past the folds), a stable
    choice by a hash of the id."""
    hashed = tf.strings.to_hash_bucket_fast(item_keys, HASH_BUCKETS).numpy()
    folds = (hashed // (SIMULATED_COLD_SHARE * HASH_BUCKETS)).astype(np.int64)
    return np.where((folds < COLD_FOLDS) & (buckets > 0), folds, -1)


def cold_read(model, simulated: np.ndarray, counts: np.ndarray, content: bool = False) -> tf.Tensor:
    """The item vectors of the simulated cold rows as a never-trained item's: the OOV id, each word no other trained
    item has the OOV word; their categories and shared words; their pretrained content where `content`."""
    rows = np.flatnonzero(simulated)
    tokens = model.catalog.features[P.TOKEN_INDICES].numpy()
    others = tokens[(counts > 0) & ~simulated]
    shared = np.isin(tokens[rows], others[others >= 0])
    read = np.where(shared | (tokens[rows] == P.INDEX_PAD), tokens[rows], model.sizes.tokens)
    cold = {**model.catalog.take(tf.constant(rows, tf.int64)), P.TOKEN_INDICES: tf.constant(read, tf.int64)}
    return model.candidate_tower(cold, training=False, ids=False,
                                 keep=None if content else tf.zeros([len(MODALITIES)], tf.bool))


def _text(model) -> tf.Tensor | None:
    """Every catalog item's pretrained text vector (zero where it has none), or None when text is not read."""
    tower = model.candidate_tower
    if tower.content is None or not bool(tower.modality_keep[0]):
        return None
    vectors, present = tower.content(model.catalog.features[P.ITEM_KEY])
    return vectors["text"] * tf.cast(present[:, :1], tf.float32)


class Point(NamedTuple):
    """One candidate path: the additive path's weights (in spreads of the towers' scores), thresholds, one_sided and
    scales, [3] each by bucket, and the cold component [4] (models.content_path.path_scores)."""
    weights: np.ndarray
    thresholds: np.ndarray
    one_sided: np.ndarray
    scales: np.ndarray
    cold: np.ndarray


METRICS = ("recall@10", "recall@50", "ndcg@10")  # the first len(TOPS) are the recalls at TOPS


@tf.function(jit_compile=True)
def _bucket_ranks(towers, affinity, competing, anchor, weight, threshold, one_sided, scale, cold, temperature,
                  inside, target_column, outside_score) -> tuple[tf.Tensor, tf.Tensor]:
    """One candidate's scores of one bucket's n items (towers' scores, affinities and competing [B, n]): the cold
    component anchored at the trained items' mean logit anchor [B, 1] where cold[0], else the additive path. ->
    (each target's score [B]: its column's where inside the bucket, else outside_score; how many competing items of
    the bucket score at least that [B]). Compiled by XLA, the passes over [B, n] fuse into one."""
    scores = tf.cond(cold[0] > 0, lambda: temperature * mixture_logits(towers / temperature, affinity, anchor, cold[1],
                                                                       cold[2], cold[3]),
                     lambda: additive(towers, affinity, scale, weight, threshold, one_sided))
    target_score = tf.where(inside, tf.gather(scores, target_column, batch_dims=1), outside_score)
    ahead = tf.reduce_sum(tf.cast(competing & (scores >= target_score[:, tf.newaxis]), tf.float32), axis=1)
    return target_score, ahead


def _at_least(ascending: tf.Tensor, values: tf.Tensor) -> tf.Tensor:
    """[B]: how many of each row's sorted scores [B, N] are at least its value [B] (ties count, as target_ranks)."""
    below = tf.searchsorted(ascending, values[:, tf.newaxis], side="left")[:, 0]
    return tf.cast(tf.shape(ascending)[1] - below, tf.float32)


class _Slice:
    """The validation slice's towers' scores and text affinities, batch by batch, re-ranked under candidate paths in
    every fold (the slice is read once)."""

    def __init__(self, model, examples, unknown, path: ContentPath, folds: list[tuple[tf.Tensor, np.ndarray]]):
        """path: the whole catalog's, as served; folds: (the item table with the fold's cold items read as cold, each
        item's bucket as read) per fold. The catalog's never-trained items that no validation example targets are
        left out of the ranking (`absent`): they had no interaction before the slice's end (not yet released, as
        `--cold-items` or a refresh's new items are), so they would only take top places from the targets, and a
        fit that counted them as cold competitors would judge every cold share by items that cannot be hit. They
        stay in the path (its text basis and moments) and in the histories it reads."""
        self.model, self.path, self.batches = model, path, []
        buckets = path.buckets.numpy()
        for batch in examples:
            rows, present = model.recent_history(batch)
            targets = model.catalog.rows_of(tf.reshape(batch[P.ITEM_KEY], [-1]))
            self.batches.append(([model.queries(batch, table, unknown, training=False) for table, _ in folds], rows,
                                 present, targets.numpy()))
        targeted = np.zeros(len(buckets), bool)
        targeted[np.concatenate([targets[targets >= 0] for *_, targets in self.batches] or [[]]).astype(int)] = True
        kept = (buckets > 0) | targeted
        self.absent = int((~kept).sum())
        row = np.where(kept, np.cumsum(kept) - 1, -1)  # in the catalog without the absent items

        def kept_rows(rows):
            return tf.constant(np.where(rows >= 0, row[np.maximum(rows, 0)], -1))

        # (queries, history rows in the catalog (the path's), in the fit's, present, target rows in the fit's, known)
        self.batches = [(queries, rows, kept_rows(rows.numpy()), present, kept_rows(targets), targets >= 0)
                        for queries, rows, present, targets in self.batches]
        self.columns = tf.constant(np.flatnonzero(kept), tf.int32)  # the fit's items' catalog rows
        self.folds = [(tf.boolean_mask(table, kept), read[kept]) for table, read in folds]
        self.size = int(kept.sum())
        # totals: the recalls' denominators, every fold's targets; distinct: the examples a bucket's targets come
        # from (a cold target is cold in one fold, a warm one in every fold but its own)
        self.totals, self.distinct = np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS))
        for *_, targets, known in self.batches:
            read = np.stack([read_buckets[targets.numpy()[known]] for _, read_buckets in self.folds])
            self.totals += np.bincount(read.ravel(), minlength=len(BUCKETS))
            self.distinct += [np.any(read == bucket, axis=0).sum() for bucket in range(len(BUCKETS))]
        first = self.batches[0][0][0] if self.batches else None
        self.spread = (float(tf.math.reduce_std(tf.matmul(first, self.folds[0][0], transpose_b=True)))
                       if first is not None else 1.0)

    def metrics(self, candidates: list[Point], half_life: float, bucket: int = 0) -> np.ndarray:
        """[candidates, METRICS, buckets] each candidate's metrics over all folds, the served scores' (path_scores)
        ranks. The candidates differ in `bucket`'s values alone: per batch and fold, the other items' scores are
        computed and sorted once; each candidate scores the bucket's items only, and a target's rank is the count of
        those at least its score plus a search among the others (the cold bucket is a tenth of the catalog: on short
        histories the same fit took 124 s, against 527 s with whole-catalog passes per candidate)."""
        sums = np.zeros((len(candidates), len(METRICS), len(BUCKETS)))
        temperature = tf.constant(self.model.config.temperature, tf.float32)
        size = self.size
        served = self._values(candidates[0])
        values = [self._values(point, bucket) for point in candidates]
        for queries, rows, fit_rows, present, targets, known in self.batches:
            affinity = self.affinities(rows, present, half_life)
            safe = np.maximum(targets.numpy(), 0)
            competitors = ~excluded_mask(fit_rows, size) & ~tf.one_hot(safe, size, on_value=True, off_value=False)
            last = tf.reduce_sum(tf.cast(competitors, tf.float32), axis=1)
            for fold_queries, (table, read_buckets) in zip(queries, self.folds):
                towers = tf.matmul(fold_queries, table, transpose_b=True)
                anchor = trained_anchor(towers, tf.constant(read_buckets), temperature)
                scores = path_scores(towers, affinity, tf.constant(read_buckets), *served, temperature, anchor)
                others = tf.sort(tf.where(competitors & (read_buckets != bucket)[np.newaxis], scores, -np.inf), axis=1)
                columns = np.flatnonzero(read_buckets == bucket)
                inside = tf.constant(read_buckets[safe] == bucket)
                outside_score = tf.gather(scores, safe, batch_dims=1)
                outside_ahead = _at_least(others, outside_score)
                position = np.zeros(size, np.int64)
                position[columns] = np.arange(len(columns))
                target_column = tf.constant(position[safe])
                read = [tf.gather(values, columns, axis=1) for values in (towers, affinity, competitors)]
                target_buckets = read_buckets[safe][known]
                for number, point in enumerate(values):
                    if len(columns):
                        target_score, ahead = _bucket_ranks(*read, anchor, *point, temperature, inside,
                                                            target_column, outside_score)
                        ahead += tf.where(inside, _at_least(others, target_score), outside_ahead)
                    else:
                        target_score, ahead = outside_score, outside_ahead
                    ranks = tf.where(tf.math.is_finite(target_score), ahead, last).numpy()[known]
                    gains = [ranks < top for top in TOPS] + [np.where(ranks < 10, 1 / np.log2(ranks + 2.0), 0.0)]
                    for metric, gain in enumerate(gains):
                        sums[number, metric] += np.bincount(target_buckets, weights=gain, minlength=len(BUCKETS))
        return sums / np.maximum(self.totals, 1)

    def affinities(self, rows: tf.Tensor, present: tf.Tensor, half_life: float) -> tf.Tensor:
        """[B, size]: the fit's items' affinities with histories of catalog rows [B, L], as the served path's."""
        return tf.gather(self.path.affinities(rows, present, half_life), self.columns, axis=1)

    def _values(self, point: Point, bucket: int | None = None) -> tuple:
        """The path's values as path_scores reads them (weights in spreads of the towers' scores), or one bucket's as
        _bucket_ranks does (the cold component on the cold bucket only)."""
        values = (point.weights * self.spread, point.thresholds, point.one_sided, point.scales)
        if bucket is None:
            return tuple(tf.constant(value, tf.float32) for value in (*values, point.cold))
        cold = point.cold if bucket == 0 else NO_COLD_COMPONENT
        return tuple(tf.constant(value, tf.float32) for value in (*(value[bucket] for value in values), cold))


def _score(metrics: np.ndarray, targeted: list[int]) -> np.ndarray:
    """[..., METRICS, buckets] -> [...]: the mean over the targeted buckets of Recall@10 and Recall@50's geometric
    mean."""
    return np.sqrt(np.prod(metrics[..., :len(TOPS), targeted], axis=-2)).mean(axis=-1)


def _no_path() -> Point:
    """No bucket gains anything: the towers' scores as they are."""
    return Point(np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS)), np.zeros(len(BUCKETS)), np.ones(len(BUCKETS)),
                 np.array(NO_COLD_COMPONENT))


def _candidates(path: Point, bucket: int, scales: tuple[float, ...]) -> list[Point]:
    """path with one bucket's values replaced by each point of its grid: the cold component's, or the additive
    path's (GRID x scales)."""
    if bucket == 0:
        return [path._replace(cold=np.array([1.0, *point])) for point in COLD_GRID]
    candidates = []
    for point in itertools.product(GRID, scales):
        candidate = Point(*(values.copy() for values in path))
        for values, value in zip(candidate[:4], (*point[0], point[1])):
            values[bucket] = value
        candidates.append(candidate)
    return candidates


def _fit_buckets(slice_: _Slice, half_life: float, fitted: list[int], targeted: list[int], without: np.ndarray,
                 max_warm_drop: float, scales: tuple[float, ...] = (1.0,),
                 start: tuple[Point, np.ndarray] | None = None) -> tuple[Point, np.ndarray]:
    """(path, metrics [METRICS, 3]) for one half-life, bucket by bucket through `fitted`, from `start` (a path and
    its metrics; default: none), each bucket's values kept unless a point of its grid scores better over the targeted
    buckets while the many bucket's metrics keep within the bound."""
    path, best = start or (_no_path(), without)
    for bucket in fitted:
        candidates = _candidates(path, bucket, scales)
        metrics = slice_.metrics(candidates, half_life, bucket)
        feasible = np.all(metrics[:, :, 2] >= (1 - max_warm_drop) * without[:, 2], axis=1)
        objective = np.where(feasible, _score(metrics, targeted), -1.0)
        if objective.max() > _score(best, targeted):
            number = int(np.argmax(objective))
            path, best = candidates[number], metrics[number]
    return path, best


def _fit(slice_: _Slice, max_warm_drop: float, min_targets: int) -> tuple[float, Point, np.ndarray, np.ndarray]:
    """(half-life, path, metrics without the path [METRICS, 3], with it [METRICS, 3])."""
    without = slice_.metrics([_no_path()], 0.0)[0]
    targeted = [bucket for bucket in range(2) if slice_.distinct[bucket] >= max(min_targets, 1)]
    best = (0.0, _no_path(), without)
    for half_life in HALF_LIVES if targeted else ():
        fitted = (half_life, *_fit_buckets(slice_, half_life, targeted, targeted, without, max_warm_drop))
        if _score(fitted[2], targeted) > _score(best[2], targeted):
            best = fitted
    if 1 in targeted:
        best = (best[0], *_fit_buckets(slice_, best[0], [1], targeted, without, max_warm_drop, SCALES, best[1:]))
    return (*best[:2], without, best[2])


READS = {"bare": (False,), "content": (True,), "both": (False, True)}  # ModelConfig.content_path_cold_read


def validation_slice(model, examples: tf.data.Dataset, counts: np.ndarray, text: tf.Tensor, fold_of_item: np.ndarray,
                     reads: tuple[bool, ...] = (False,), text_dim: int | None = None) -> _Slice:
    """The slice read in every fold (cold_folds), each fold's simulated cold items read as cold (cold_read), without
    and (or) with their pretrained content as `reads` says; the text in text_dim dimensions, as served."""
    buckets = interaction_buckets(counts)
    table, unknown = model.item_table(training=False)
    folds = []
    for fold, content in itertools.product(range(COLD_FOLDS), reads):
        simulated = fold_of_item == fold
        read = table
        if simulated.any():
            read = tf.tensor_scatter_nd_update(table, np.flatnonzero(simulated)[:, np.newaxis],
                                               cold_read(model, simulated, counts, content))
        folds.append((read, np.where(simulated, 0, buckets).astype(np.int32)))
    return _Slice(model, examples, unknown, ContentPath(text, buckets, text_dim=text_dim), folds)


def fit_content_path(model, examples: tf.data.Dataset, counts: np.ndarray, max_warm_drop: float,
                     min_targets: int = MIN_BUCKET_TARGETS, reads: str = "both",
                     text_dim: int | None = None) -> tuple[ContentPath | None, dict]:
    """(the fitted path in catalog order, or None where the model reads no text or no bucket gains: the served score
    then skips it; a report for history.json). reads: how simulated cold items are read (READS); text_dim: the text's
    dimensions in the path (None: all)."""
    text = _text(model)
    if text is None:
        return None, {"off": "the model reads no pretrained text"}
    started = time.monotonic()
    buckets = interaction_buckets(counts)
    fold_of_item = cold_folds(model.catalog.features[P.ITEM_KEY], buckets)
    slice_ = validation_slice(model, examples, counts, text, fold_of_item, READS[reads], text_dim)
    half_life, path, without, with_path = _fit(slice_, max_warm_drop, min_targets)

    def per_bucket(values, scale=1.0):
        return {name: round(float(values[number] * scale), 4) for number, name in enumerate(BUCKETS)}

    anchored, sharpness, towers_weight, log_prior = (float(value) for value in path.cold)
    report = {"weights": per_bucket(path.weights, slice_.spread), "thresholds": per_bucket(path.thresholds),
              "one_sided": {name: bool(path.one_sided[number]) for number, name in enumerate(BUCKETS)},
              "scales": per_bucket(path.scales),
              "cold_component": ({"sharpness": sharpness, "towers_weight": towers_weight, "log_prior": log_prior}
                                 if anchored else None),
              "half_life": half_life, "spread": round(slice_.spread, 4),
              "validation_examples": per_bucket(slice_.distinct), "cold_folds": COLD_FOLDS, "cold_read": reads,
              "text_dim": int(slice_.path.text.shape[1]),
              "simulated_cold_items": int((fold_of_item >= 0).sum()), "absent_items": slice_.absent,
              "min_bucket_targets": min_targets,
              **{f"{side}{'' if metric == 'recall@10' else '_' + metric}": per_bucket(values[number])
                 for side, values in (("without", without), ("with", with_path))
                 for number, metric in enumerate(METRICS)},
              "seconds": round(time.monotonic() - started, 1)}
    if not path.weights.any() and np.all(path.scales == 1) and not anchored:
        return None, report
    served = ContentPath(text.numpy(), buckets, (path.weights * slice_.spread)[:2], path.thresholds[:2],
                         path.one_sided[:2] > 0, half_life, path.scales[:2], path.cold, model.config.temperature,
                         text_dim)
    report["rescored_items"] = int(tf.size(served.path_rows))  # what a request reads the text of
    return served, report


def describe(report: dict) -> str:
    """One line of the fit for the run's progress log."""
    if "off" in report:
        return f"off ({report['off']})"
    def recalls(suffix):
        return " / ".join(f"{report['with' + suffix][name]:.4f} ({report['without' + suffix][name]:.4f})"
                          for name in BUCKETS)

    def few(name):
        side = "one-sided" if report["one_sided"][name] else "two-sided"
        return (f"{name} {report['weights'][name]:.3g}, {report['thresholds'][name]:.3g} ({side}), "
                f"towers x{report['scales'][name]:g}")

    component = report["cold_component"]
    cold = ("cold: no component" if component is None else
            f"cold: component of sharpness {component['sharpness']:g}, towers' weight {component['towers_weight']:g}, "
            f"log prior {component['log_prior']:g}")
    rescored = f"; a request rescores {report['rescored_items']} items" if "rescored_items" in report else ""
    return (f"history half-life {report['half_life']:g}; {cold}; weight, threshold, scale: {few('few')}{rescored}; "
            f"validation cold / few / many with the path (without): Recall@10 {recalls('')}, "
            f"Recall@50 {recalls('_recall@50')}, NDCG@10 {recalls('_ndcg@10')}")
