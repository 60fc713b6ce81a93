"""TimeSplit's Beam pipelines, run one after another.

Beam's DirectRunner keeps everything a GroupByKey receives in memory in one process, so a log is grouped by user in
shards of at most `group_events` events (by a hash of the user), one pipeline each; what needs the whole window is
carried between pipelines as bounded summaries only:

1. `prepare` (when there is more than one shard, a span cut or cold items): reads the window's events once, writes
   them to their user shards, and finds what every shard needs: the newest span's evaluation cutoff, the cold items.
2. `split_shard`, once per shard: groups the events by user, splits each user (avrec.data.split), writes the training
   examples in their final form and stages the evaluation examples, with the shard's summaries: how often each item
   is trained on, its lowest evaluation hashes, a few repeated events.
3. `finish`: gives each evaluation example its target group (from every shard's training counts) and writes it to
   `eval` (the `eval_examples` of lowest hash over all shards) or `eval_unscored`.

A distributed runner (Dataflow, Flink, Spark) spills its shuffles to disk: one shard (`group_events` 0) suits it.
"""
from __future__ import annotations

import heapq
import json
import math
import os

import apache_beam as beam
import tensorflow as tf

from avrec import features as F
from avrec.data.examples import serialize
from avrec.data.split import EVAL, EVAL_UNSCORED, TRAIN, SplitPlan, cold_items, example_hash, split_user, \
    stable_hash, target_group

COUNTERS = "avrec.time_split"
REPEATS = "repeats"
GROUP = "eval_"  # + a target group: the evaluation examples of that group
CUTOFF, COLD = "cutoff", "cold"
_TRAINED, _LOWEST = "trained", "lowest"
_STAGED = beam.coders.FastPrimitivesCoder()  # (user, event) tuples and evaluation feature dicts, between pipelines


def shard_count(events: int, group_events: int) -> int:
    return max(1, math.ceil(events / group_events)) if group_events else 1


def write_json(value, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(value, handle)


def read_json(path: str):
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def _event(record: bytes, span: int):
    features = tf.train.Example.FromString(record).features.feature
    return (features[F.USER_ID].bytes_list.value[0].decode(),
            (features[F.TIMESTAMP].int64_list.value[0], features[F.ITEM_ID].bytes_list.value[0].decode(),
             features[F.RATING].float_list.value[0], span))


def read_events(pipeline, sources: dict[int, str]):
    """(user, event) of every span of the window ({span: file pattern}), read as one collection: no step merges
    the spans."""
    span_of = {os.path.dirname(pattern): span for span, pattern in sources.items()}
    return (pipeline | "Patterns" >> beam.Create(sorted(sources.values()))
            | "Read" >> beam.io.ReadAllFromTFRecord(with_filename=True)
            | "Parse" >> beam.MapTuple(lambda filename, record: _event(record, span_of[os.path.dirname(filename)])))


def read_shard(pipeline, staging: str, shard: int):
    return pipeline | "ReadShard" >> beam.io.ReadFromTFRecord(_shard_prefix(staging, shard) + "*", coder=_STAGED)


def _shard_prefix(staging: str, shard: int) -> str:
    return os.path.join(staging, "shards", f"{shard}-")


def _fact_path(staging: str, name: str) -> str:
    return os.path.join(staging, f"{name}.json")


def read_fact(staging: str, name: str):
    """What `prepare` found for every shard: CUTOFF or COLD."""
    return read_json(_fact_path(staging, name))


def _cutoff(quantiles: list[int], eval_fraction: float) -> int:
    return int(quantiles[round((1 - eval_fraction) * (len(quantiles) - 1))])


def prepare(pipeline, sources: dict[int, str], shards: int, staging: str, newest_span: int | None,
            span_eval_fraction: float, cold_fraction: float) -> None:
    events = read_events(pipeline, sources)
    if shards > 1:
        parts = events | "Shard" >> beam.Partition(lambda event, n: stable_hash(event[0].encode()) % n, shards)
        for shard, part in enumerate(parts):
            _ = part | f"WriteShard[{shard}]" >> beam.io.WriteToTFRecord(_shard_prefix(staging, shard), coder=_STAGED)
    if newest_span is not None:
        _ = (events | "Newest" >> beam.Filter(lambda event: event[1][3] == newest_span)
             | "Times" >> beam.Map(lambda event: event[1][0])
             | "Quantiles" >> beam.ApproximateQuantiles.Globally(101)
             | "Cutoff" >> beam.Map(_cutoff, span_eval_fraction)
             | "WriteCutoff" >> beam.Map(write_json, _fact_path(staging, CUTOFF)))
    elif cold_fraction:
        _ = (events | "Items" >> beam.Map(lambda event: event[1][1]) | "Distinct" >> beam.Distinct()
             | "AllItems" >> beam.combiners.ToList()
             | "ColdItems" >> beam.Map(lambda items: sorted(cold_items(items, cold_fraction)))
             | "WriteCold" >> beam.Map(write_json, _fact_path(staging, COLD)))


class _SplitUsers(beam.DoFn):
    """(user, events) -> feature dicts tagged TRAIN / EVAL, the items the user trains (_TRAINED) and the repeated
    events (REPEATS)."""

    def __init__(self, plan: SplitPlan, catalog: dict[str, tuple]):
        self._plan, self._catalog = plan, catalog
        self._counters = {role: beam.metrics.Metrics.counter(COUNTERS, role) for role in (TRAIN, EVAL, REPEATS)}

    def process(self, element):
        user, events = element
        split = split_user(list(events), self._plan)
        for example in split.examples:
            title, genres, text = self._catalog[example.item_id]
            self._counters[example.role].inc()
            yield beam.pvalue.TaggedOutput(example.role, {
                F.USER_ID: user, F.ITEM_ID: example.item_id, F.RATING: float(example.rating),
                F.TIMESTAMP: int(example.timestamp), F.HISTORY: example.history, F.TITLE: title, F.GENRES: genres,
                F.TEXT: text, F.COLD: example.cold, F.LATEST: example.latest, F.WINDOW: example.window,
                F.HORIZON: example.horizon})
        for item in split.trained:
            yield beam.pvalue.TaggedOutput(_TRAINED, item)
        for timestamp, item, _, _ in split.repeats:
            self._counters[REPEATS].inc()
            yield beam.pvalue.TaggedOutput(REPEATS, f"user {user!r}, item {item!r}, timestamp {timestamp}")


def _sample_key(features: dict) -> int:
    return example_hash(features[F.USER_ID].encode(), features[F.ITEM_ID].encode(), features[F.TIMESTAMP])


def split_shard(events, plan: SplitPlan, catalog: dict[str, tuple], shard: int, train_prefix: str, staging: str,
                eval_examples: int) -> None:
    split = (events | "ByUser" >> beam.GroupByKey()
             | "Split" >> beam.ParDo(_SplitUsers(plan, catalog)).with_outputs(TRAIN, EVAL, _TRAINED, REPEATS))
    _ = (split[TRAIN] | "SerializeTrain" >> beam.ParDo(_Serialize())
         | "WriteTrain" >> beam.io.WriteToTFRecord(f"{train_prefix}-{shard}", file_name_suffix=".gz"))
    _ = split[EVAL] | "StageEval" >> beam.io.WriteToTFRecord(os.path.join(staging, EVAL, f"{shard}-"), coder=_STAGED)
    summaries = {
        _TRAINED: split[_TRAINED] | "TrainCounts" >> beam.combiners.Count.PerElement()
        | "AllCounts" >> beam.combiners.ToDict(),
        _LOWEST: split[EVAL] | "SampleKeys" >> beam.Map(_sample_key)
        | "Lowest" >> beam.combiners.Top.Smallest(eval_examples),
        REPEATS: split[REPEATS] | "SomeRepeats" >> beam.combiners.Sample.FixedSizeGlobally(3)}
    for name, summary in summaries.items():
        _ = summary | f"Write[{name}]" >> beam.Map(write_json, _summary_path(staging, name, shard))


def _summary_path(staging: str, name: str, shard: int) -> str:
    return os.path.join(staging, f"{name}-{shard}.json")


def merged_summaries(staging: str, shards: int, eval_examples: int) -> tuple[dict, int | None, list]:
    """(how often the window trains each item, the highest hash of the scored sample (None: every evaluation example
    is scored), up to three repeated events) over every shard."""
    trained, lowest, repeats = {}, [], []
    for shard in range(shards):
        for item, count in read_json(_summary_path(staging, _TRAINED, shard)).items():
            trained[item] = trained.get(item, 0) + count
        lowest = heapq.nsmallest(eval_examples, lowest + read_json(_summary_path(staging, _LOWEST, shard)))
        repeats += read_json(_summary_path(staging, REPEATS, shard))
    return trained, max(lowest) if len(lowest) >= eval_examples else None, repeats[:3]


class _Serialize(beam.DoFn):
    """Adds the target group (for evaluation examples, from how often the window trains the target item, and counted)
    and serializes."""

    def __init__(self, trained: dict[str, int] | None = None):
        self._trained = trained
        self._groups = {group: beam.metrics.Metrics.counter(COUNTERS, f"{GROUP}{group}") for group in F.TARGET_GROUPS}

    def process(self, features: dict):
        if self._trained is None:
            group = F.TRAIN_TARGET_GROUP
        else:
            group = target_group(features[F.COLD], features[F.HISTORY], self._trained.get(features[F.ITEM_ID], 0))
            self._groups[group].inc()
        yield serialize({**features, F.TARGET_GROUP: group})


def _scored_or_not(features: dict, partitions: int, highest: int | None) -> int:
    del partitions
    return 0 if highest is None or _sample_key(features) <= highest else 1


def finish(pipeline, staging: str, trained: dict[str, int], highest: int | None, prefixes: dict[str, str]) -> None:
    """Writes the staged evaluation examples to `eval` and `eval_unscored` ({split: file prefix})."""
    parts = (pipeline | "ReadEval" >> beam.io.ReadFromTFRecord(os.path.join(staging, EVAL, "*"), coder=_STAGED)
             | "Sample" >> beam.Partition(_scored_or_not, 2, highest=highest))
    for split, part in zip((EVAL, EVAL_UNSCORED), parts):
        _ = (part | f"Serialize[{split}]" >> beam.ParDo(_Serialize(trained))
             | f"Write[{split}]" >> beam.io.WriteToTFRecord(prefixes[split], file_name_suffix=".gz"))
