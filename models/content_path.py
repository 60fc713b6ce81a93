"""The content candidate path: an item trained on few times or never is also scored by how close its pretrained text
is to the history's.

Cold items (never in training) are a mixture component anchored to the user's trained distribution: a cold item's
served logit is a log prior (an average cold item's probability against an average trained item's) + the trained
items' mean logit for this user + its log weight among the cold items, a softmax of sharpness * affinity +
towers_weight * its towers' logit. Why: training never scores a cold item (neither a positive nor a negative), so the
towers' score of one has no calibrated level; on a short-history set the towers alone put cold items so high that
they cost the warm targets 5% of their Recall@10. As a component, the cold items take a share of each user's
probability that depends on how sharp that user's choice among trained items is, and many new items of a user's
genre split their share instead of flooding the top. Measured on a served short-history model's test split (each
form's grid fitted on it, to compare the forms): where the warm targets' Recall@10 / @50 / NDCG@10 stayed at least
the towers' alone, the component served cold 0.0251 / 0.0517 / 0.0180; the additive path's best point at a 2.5% warm
cost, 0.0251 / 0.0445 / 0.0195.

Few-interaction items (1 to FEW_INTERACTIONS in training) are inside the trained softmax, so their level is
calibrated: they get additive text evidence, weight * (affinity - threshold), two-sided (items below the threshold
lose score) or one-sided (only items above it gain), on their towers' scores multiplied by a scale (1 or less: an id
embedding fitted on a handful of examples is off in level, and a lower one lets the text reorder the bucket). Items
trained on more often are the towers' alone. The same test split: the mixture lost the few items to the additive path
(few Recall@10 0.0239 at 12% of the warm targets' Recall@10 against 2%).

The affinity is the cosine between an item's unit text vector and the history's (a recency-weighted mean of the
history items' unit text vectors, half-life in history items; 0 weighs all alike, as the content-only baseline
does), standardized over the catalog for that query: how many standard deviations the item stands above the catalog's
typical cosine with this history. A raw cosine's level and spread differ from one history to the next (a narrow
history is close to everything of its genre); in standard deviations it means the same for each. The text is kept in
its top principal directions (text_basis, ModelConfig.content_path_text_dim) and the catalog's mean and spread in
closed form, from its text's mean and covariance: a request reads the text of the rows the path rescores only, in
fewer dimensions (a 384-wide product with every row of a 100k-item index had made a served request 16 times slower).

The half-life and each bucket's values are fitted on the validation slice (models.content_path_fit), so where the
path does not pay the model is served without it. Served, the path keeps each index row's text coordinates and
bucket, and the rows of the buckets it changes (TF Serving needs nothing else). A catalog refresh appends new items as
cold ones, which join the cold component.
"""
from __future__ import annotations

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import numpy as np
import tensorflow as tf

from avrec.features import FEW_INTERACTIONS
from avrec.models.index import grow

BUCKETS = ("cold", "few", "many")


def interaction_buckets(counts: np.ndarray) -> np.ndarray:
    """Training interactions per item -> its bucket (0 cold, 1 few, 2 many)."""
    counts = np.asarray(counts)
    return np.where(counts == 0, 0, np.where(counts <= FEW_INTERACTIONS, 1, 2)).astype(np.int32)


def text_basis(unit: np.ndarray, dim: int) -> np.ndarray:
    """[T, k]: the top k = min(dim, T) principal directions of the unit text rows [N, T] about their mean. Why these:
    standardized over the catalog, an item's affinity is the history's product with the item's text less the mean,
    so the directions in which the catalog's texts differ most keep the most of it. Two short-history models' test
    splits, each path as fitted with MiniLM's 384: cold Recall@10 the same at 256, 1% and 5% lower at 192, 11% and 6%
    lower at 128."""
    centered = unit - unit.mean(axis=0)
    _, directions = np.linalg.eigh(centered.T.astype(np.float64) @ centered)  # ascending eigenvalues
    return directions[:, ::-1][:, :min(dim, unit.shape[1])].astype(np.float32)


def history_text(text: tf.Tensor, rows: tf.Tensor, present: tf.Tensor, half_life: tf.Tensor | float) -> tf.Tensor:
    """Unit recency-weighted mean of the text vectors [N, T] of history rows [B, L] (most recent last; -1 or absent:
    left out) -> [B, T]. An item k known items before the latest weighs 0.5 ** (k / half_life); a half-life of 0
    weighs all alike."""
    known = tf.cast(present & (rows >= 0), text.dtype)
    before_latest = tf.math.cumsum(known, axis=1, reverse=True) - 1.0
    half_life = tf.cast(half_life, text.dtype)
    decay = tf.where(half_life > 0, tf.pow(0.5, before_latest / tf.maximum(half_life, 1e-6)), 1.0)
    weighted_sum = tf.reduce_sum(tf.gather(text, tf.maximum(rows, 0)) * (known * decay)[:, :, tf.newaxis], axis=1)
    return tf.math.l2_normalize(weighted_sum, axis=-1)  # a zero row (no text) stays zero


def standardized(history: tf.Tensor, text: tf.Tensor, mean: tf.Tensor, covariance: tf.Tensor) -> tf.Tensor:
    """[B, n]: the products of histories [B, T] with text rows [n, T], in standard deviations above the mean of the
    whole catalog's, from the catalog's text mean [T] and covariance [T, T] (all zero for a history without text).
    In closed form, a request reads only the rows it scores."""
    centered = tf.matmul(history, text, transpose_b=True) - tf.linalg.matvec(history, mean)[:, tf.newaxis]
    variance = tf.reduce_sum(tf.matmul(history, covariance) * history, axis=1, keepdims=True)
    return tf.math.divide_no_nan(centered, tf.sqrt(tf.maximum(variance, 0.0)))


def additive(towers: tf.Tensor, affinity: tf.Tensor, scales: tf.Tensor, weights: tf.Tensor, thresholds: tf.Tensor,
             one_sided: tf.Tensor) -> tf.Tensor:
    """The additive path's scores [B, n]: the towers' scores [B, n] times the scale, plus weight * (affinity -
    threshold), that difference floored at 0 where one-sided (1.0; 0.0: two-sided); each value per item ([n]) or one
    for all."""
    above = affinity - thresholds[tf.newaxis]
    return towers * scales[tf.newaxis] + weights[tf.newaxis] * (above - one_sided[tf.newaxis] * tf.minimum(above, 0.0))


def log_mean_exp(values: tf.Tensor, members: tf.Tensor | None = None) -> tf.Tensor:
    """[B, N] -> [B, 1]: the log of the mean of exp(values) over the members [N] (bool; None: every column)."""
    if members is None:
        count = tf.cast(tf.shape(values)[1], values.dtype)
    else:
        count = tf.reduce_sum(tf.cast(members, values.dtype))
        values = tf.where(members[tf.newaxis], values, tf.constant(-np.inf, values.dtype))
    return tf.reduce_logsumexp(values, axis=1, keepdims=True) - tf.math.log(count)


def mixture_logits(logits: tf.Tensor, affinity: tf.Tensor, anchor: tf.Tensor, sharpness, towers_weight, log_prior,
                   members: tf.Tensor | None = None) -> tf.Tensor:
    """The cold items' logits [B, N] from their towers' logits and affinities [B, N] and the trained items' mean
    logit anchor [B, 1]: log_prior + anchor + each item's log weight among the members (None: every column)."""
    within = sharpness * affinity + towers_weight * logits
    return log_prior + anchor + within - log_mean_exp(within, members)


def trained_anchor(towers: tf.Tensor, buckets: tf.Tensor, temperature) -> tf.Tensor:
    """[B, 1]: the trained items' (buckets [N] not cold) mean logit, a log-mean-exp; not finite where none is."""
    return log_mean_exp(towers / temperature, tf.not_equal(buckets, 0))


def cold_component(towers: tf.Tensor, affinity: tf.Tensor, cold: tf.Tensor | None, sharpness, towers_weight,
                   log_prior, temperature, anchor: tf.Tensor) -> tf.Tensor:
    """[B, N] scores of the cold items ([N] bool; None: every column) as a mixture component, in logits (a towers'
    score / temperature) times the temperature: log_prior + the trained items' mean logit (trained_anchor) + the
    item's log weight among the cold items (sharpness * affinity + towers_weight * logit) less their log-mean-exp.
    log_prior is an average cold item's log-probability against an average trained item's, so the cold items' share
    grows with their number and does not depend on the catalog's size. Read at cold items only."""
    return temperature * mixture_logits(towers / temperature, affinity, anchor, sharpness, towers_weight, log_prior,
                                        cold)


def path_scores(towers: tf.Tensor, affinity: tf.Tensor, buckets: tf.Tensor, weights: tf.Tensor,
                thresholds: tf.Tensor, one_sided: tf.Tensor, scales: tf.Tensor, cold: tf.Tensor,
                temperature, anchor: tf.Tensor) -> tf.Tensor:
    """The served scores [B, n] from the towers' [B, n] and the text affinities [B, n] of n items in buckets [n] (the
    whole catalog, or a part of it holding all its cold items): weights, thresholds, one_sided (1.0 / 0.0) and scales
    [3] per bucket are the additive path's; cold [4] is (anchored 1.0 / 0.0, sharpness, towers_weight, log_prior):
    the cold items as a mixture component where anchored (cold_component) at the whole catalog's trained_anchor."""
    scores = additive(towers, affinity, *(tf.gather(values, buckets) for values in (scales, weights, thresholds,
                                                                                    one_sided)))
    is_cold = tf.equal(buckets, 0)
    # Only where it is on and both sets have items (else its values are not finite).
    anchored = (cold[0] > 0) & tf.reduce_any(is_cold) & tf.reduce_all(tf.math.is_finite(anchor))
    return tf.cond(anchored, lambda: tf.where(is_cold[tf.newaxis], cold_component(
        towers, affinity, is_cold, cold[1], cold[2], cold[3], temperature, anchor), scores), lambda: scores)


NO_COLD_COMPONENT = (0.0, 0.0, 0.0, 0.0)


class ContentPath(tf.Module):
    def __init__(self, text: np.ndarray, buckets: np.ndarray, weights=(0.0, 0.0), thresholds=(0.0, 0.0),
                 one_sided=(False, False), half_life: float = 0.0, scales=(1.0, 1.0), cold=NO_COLD_COMPONENT,
                 temperature: float = 1.0, text_dim: int | None = None, name: str | None = "content_path"):
        """text: [N, T] pretrained text vectors in index order (zero rows where absent), kept as their unit rows'
        coordinates in text_basis(text_dim) (None: every dimension); buckets: [N] as interaction_buckets; weights,
        thresholds, one_sided, scales: the cold and few buckets' additive path; cold: (anchored, sharpness,
        towers_weight, log_prior) of the cold component (path_scores); half_life: the history's (history_text);
        temperature: the towers' softmax's."""
        super().__init__(name=name)
        unit = tf.math.l2_normalize(tf.constant(text, tf.float32), axis=-1).numpy()
        basis = text_basis(unit, unit.shape[1] if text_dim is None else text_dim)
        self.text_basis = tf.Variable(basis, trainable=False, name="text_basis")
        self.text = tf.Variable(unit @ basis, shape=[None, basis.shape[1]], trainable=False, name="text")
        self.buckets = tf.Variable(tf.constant(buckets, tf.int32), shape=[None], trainable=False, name="buckets")
        self.weights = tf.Variable(np.array([*weights, 0.0], np.float32), trainable=False, name="bucket_weights")
        self.thresholds = tf.Variable(np.array([*thresholds, 0.0], np.float32), trainable=False,
                                      name="bucket_thresholds")
        self.one_sided = tf.Variable(np.array([*one_sided, False], np.float32), trainable=False,
                                     name="bucket_one_sided")
        self.half_life = tf.Variable(float(half_life), trainable=False, name="half_life")
        self.scales = tf.Variable(np.array([*scales, 1.0], np.float32), trainable=False, name="bucket_scales")
        self.cold = tf.Variable(np.array(cold, np.float32), trainable=False, name="cold_component")
        self.temperature = tf.Variable(float(temperature), trainable=False, name="temperature")
        # Derived (_derive): the catalog's text moments; the rows the path changes, cold then few, and their text.
        self.text_mean = tf.Variable(tf.zeros([basis.shape[1]]), trainable=False, name="text_mean")
        self.text_covariance = tf.Variable(tf.zeros([basis.shape[1]] * 2), trainable=False, name="text_covariance")
        self.path_rows = tf.Variable(tf.zeros([0], tf.int32), shape=[None], trainable=False, name="path_rows")
        self.path_text = tf.Variable(tf.zeros([0, basis.shape[1]]), shape=[None, basis.shape[1]], trainable=False,
                                     name="path_text")
        self.path_cold = tf.Variable(0, trainable=False, name="path_cold")  # path_rows' first ones, the cold
        self._derive()

    def _derive(self) -> None:
        self.text_mean.assign(tf.reduce_mean(self.text, axis=0))
        centered = self.text - self.text_mean
        self.text_covariance.assign(tf.matmul(centered, centered, transpose_a=True)
                                    / tf.cast(tf.maximum(tf.shape(centered)[0], 1), tf.float32))
        cold_rows = tf.cast(tf.where(tf.equal(self.buckets, 0))[:, 0], tf.int32)
        few_rows = tf.cast(tf.where(tf.equal(self.buckets, 1))[:, 0], tf.int32)
        cold_changed = (self.cold[0] > 0) | (self.weights[0] != 0) | (self.scales[0] != 1)
        cold_rows = cold_rows[:tf.where(cold_changed, tf.size(cold_rows), 0)]
        few_rows = few_rows[:tf.where((self.weights[1] != 0) | (self.scales[1] != 1), tf.size(few_rows), 0)]
        self.path_rows.assign(tf.concat([cold_rows, few_rows], 0))
        self.path_cold.assign(tf.size(cold_rows))
        self.path_text.assign(tf.gather(self.text, self.path_rows))

    def affinities(self, rows: tf.Tensor, present: tf.Tensor, half_life: tf.Tensor | float | None = None) -> tf.Tensor:
        """[B, N]: every item's affinity with the history (index rows [B, L], most recent last, -1 unknown)."""
        return self._affinities(self.text, rows, present, self.half_life if half_life is None else half_life)

    def _affinities(self, text, rows, present, half_life) -> tf.Tensor:
        return standardized(history_text(self.text, rows, present, half_life), text, self.text_mean,
                            self.text_covariance)

    def apply(self, towers: tf.Tensor, rows: tf.Tensor, present: tf.Tensor) -> tf.Tensor:
        """The served scores [B, n] of the first n index rows from their towers' scores and the history's index rows
        (an ablation's table may be shorter than the index): path_scores', but only the rows whose bucket the path
        changes are read and rescored, each bucket's with its own values, the others keeping the towers' scores."""
        n = tf.shape(towers)[1]
        path_rows, path_text, cold_count = tf.cond(
            tf.reduce_all(self.path_rows < n),
            lambda: (tf.identity(self.path_rows), tf.identity(self.path_text), tf.identity(self.path_cold)),
            lambda: (tf.boolean_mask(self.path_rows, self.path_rows < n),
                     tf.boolean_mask(self.path_text, self.path_rows < n),
                     tf.reduce_sum(tf.cast(self.path_rows[:self.path_cold] < n, tf.int32))))
        affinity = self._affinities(path_text, rows, present, self.half_life)
        read = tf.gather(towers, path_rows, axis=1)
        cold_towers, cold_affinity = read[:, :cold_count], affinity[:, :cold_count]

        def bucket(number, towers, affinity):
            return additive(towers, affinity, self.scales[number], self.weights[number], self.thresholds[number],
                            self.one_sided[number])

        # Anchored where on, with cold items (all path rows when on) and trained ones (the rest) among the n rows.
        cold = tf.cond((self.cold[0] > 0) & (cold_count > 0) & (n > cold_count),
                       lambda: cold_component(cold_towers, cold_affinity, None, self.cold[1], self.cold[2],
                                              self.cold[3], self.temperature,
                                              trained_anchor(towers, self.buckets[:n], self.temperature)),
                       lambda: bucket(0, cold_towers, cold_affinity))
        scores = tf.concat([cold, bucket(1, read[:, cold_count:], affinity[:, cold_count:])], axis=1)
        columns = tf.tensor_scatter_nd_update(tf.transpose(towers), path_rows[:, tf.newaxis], tf.transpose(scores))
        return tf.transpose(columns)

    def upsert(self, rows: tf.Tensor, text: tf.Tensor, size: tf.Tensor) -> None:
        """Sets the text of index rows; rows past the end are new items, appended as cold ones."""
        for table in (self.text, self.buckets):
            grow(table, size)  # zero padding: bucket 0 is cold
        unit = tf.math.l2_normalize(tf.cast(text, tf.float32), axis=-1)
        self.text.scatter_nd_update(tf.expand_dims(rows, 1), tf.matmul(unit, self.text_basis))
        self._derive()
