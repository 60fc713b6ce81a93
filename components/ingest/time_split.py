"""TimeSplit: the events of a window of spans -> the newest span's train/eval examples with history features.

Events are grouped by user on Beam (memory per worker is one user's history), split by avrec.data.split, joined with
the target item's catalog features and written as the `train` and `eval` splits of one Examples artifact per span,
which later runs reuse unchanged (its span is the artifact's `span` custom property, as ExampleGen's). The window
itself travels as a SpanWindow artifact from run to run (window.py). `split_report.json` counts the examples and the
repeated events left out.

Scoring an example ranks the whole catalog, so evaluation costs examples x items: `eval` holds at most
`eval_examples` of the evaluation examples (those of lowest avrec.data.split.example_hash, found by a bounded Beam
combine), and the rest are written to `eval_unscored`, counted, never scored.
"""
from __future__ import annotations

import collections
import dataclasses
import json
import os

import apache_beam as beam
import tensorflow as tf
from apache_beam.metrics.metric import MetricsFilter
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter
from tfx.utils import proto_utils

from avrec import features as F
from avrec.components.artifacts import SpanWindow, split_files
from avrec.components.ingest.window import SpanEntry, next_window, read_window, write_window
from avrec.config import DataConfig
from avrec.data.examples import read_frame, serialize
from avrec.data.split import (EVAL, EVAL_UNSCORED, TRAIN, SplitPlan, cold_items, example_hash, split_user,
                              target_group)

REPORT_FILE = "split_report.json"
SPAN = "span"  # the custom property ExampleGen gives each span's artifact
_COUNTERS = "avrec.time_split"
_CUTOFF = "cutoff.json"
_REPEATS = "repeats"
_TRAINED = "trained"
_GROUP = "eval_"
_SCORED = "eval_scored"


def _event(record: bytes, span: int):
    features = tf.train.Example.FromString(record).features.feature
    return (features[F.USER_ID].bytes_list.value[0].decode(),
            (features[F.TIMESTAMP].int64_list.value[0], features[F.ITEM_ID].bytes_list.value[0].decode(),
             features[F.RATING].float_list.value[0], span))


class _SplitUsers(beam.DoFn):
    """(user, events) -> (target item, features) tagged 'train' / 'eval', the items the user trains ('trained'),
    and the repeated events ('repeats')."""

    def __init__(self, plan: SplitPlan, catalog: dict[str, tuple]):
        self._plan, self._catalog = plan, catalog
        self._counters = {role: beam.metrics.Metrics.counter(_COUNTERS, role) for role in (TRAIN, EVAL, _REPEATS)}

    def process(self, element, cutoff=None, cold=frozenset()):
        user, events = element
        plan = dataclasses.replace(self._plan, cutoff=cutoff, cold=cold) if cutoff is not None or cold else self._plan
        split = split_user(list(events), plan)
        for example in split.examples:
            title, genres, text = self._catalog[example.item_id]
            self._counters[example.role].inc()
            yield beam.pvalue.TaggedOutput(example.role, {
                F.USER_ID: user, F.ITEM_ID: example.item_id, F.RATING: float(example.rating),
                F.TIMESTAMP: int(example.timestamp), F.HISTORY: example.history, F.TITLE: title, F.GENRES: genres,
                F.TEXT: text, F.COLD: example.cold, F.LATEST: example.latest,
                F.HORIZON: example.horizon})
        for item in split.trained:
            yield beam.pvalue.TaggedOutput(_TRAINED, item)
        for timestamp, item, _, _ in split.repeats:
            self._counters[_REPEATS].inc()
            yield beam.pvalue.TaggedOutput(_REPEATS, f"user {user!r}, item {item!r}, timestamp {timestamp}")


class _Serialize(beam.DoFn):
    """Adds the target group (from how often the window trains the target: `trained`, bounded by the item
    vocabulary) and serializes; eval examples are counted per group, and the scored ones in all."""

    def __init__(self, split: str):
        self._split = split
        self._counters = {group: beam.metrics.Metrics.counter(_COUNTERS, f"{_GROUP}{group}")
                          for group in F.TARGET_GROUPS}
        self._scored = beam.metrics.Metrics.counter(_COUNTERS, _SCORED)

    def process(self, features: dict, trained: dict):
        group = target_group(features[F.COLD], features[F.HISTORY], trained.get(features[F.ITEM_ID], 0))
        if self._split != TRAIN:
            self._counters[group].inc()
        if self._split == EVAL:
            self._scored.inc()
        yield serialize({**features, F.TARGET_GROUP: group})


def _sample_order(features: dict) -> tuple[int, dict]:
    return example_hash(features[F.USER_ID].encode(), features[F.ITEM_ID].encode(), features[F.TIMESTAMP]), features


def _highest_scored(lowest: list[int], eval_examples: int) -> int | None:
    """The sample's highest hash; None when every evaluation example is scored."""
    return max(lowest) if len(lowest) >= eval_examples else None


def _scored_or_not(keyed: tuple[int, dict], partitions: int, highest: int | None) -> int:
    del partitions
    return 0 if highest is None or keyed[0] <= highest else 1


def _sample(evaluated, eval_examples: int) -> tuple:
    """(scored, unscored): the eval_examples evaluation examples of lowest hash, and the rest. Memory is bounded by
    eval_examples hashes."""
    keyed = evaluated | "SampleOrder" >> beam.Map(_sample_order)
    highest = (keyed | "Hashes" >> beam.Keys() | "Lowest" >> beam.combiners.Top.Smallest(eval_examples)
               | "Highest" >> beam.Map(_highest_scored, eval_examples))
    parts = keyed | "Sample" >> beam.Partition(_scored_or_not, 2, highest=beam.pvalue.AsSingleton(highest))
    return tuple(part | f"Unkey[{n}]" >> beam.Values() for n, part in enumerate(parts))


def _write_json(value, path: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(value, handle)


def _cutoff(quantiles: list[int], eval_fraction: float) -> int:
    return int(quantiles[round((1 - eval_fraction) * (len(quantiles) - 1))])


class TimeSplitSpec(ComponentSpec):
    PARAMETERS = {
        "data": ExecutionParameter(type=str),  # DataConfig as JSON
        "spans": ExecutionParameter(type=int),  # 1: span folders (time cut); 0: one dataset (per-user holdout)
        "range_config": ExecutionParameter(type=range_config_pb2.RangeConfig),  # rolling_range.num_spans
        "eval_examples": ExecutionParameter(type=int),  # EvalConfig.eval_examples: at most this many scored
        "code": ExecutionParameter(type=str),
    }
    INPUTS = {
        "events": ChannelParameter(type=standard_artifacts.Examples),
        "catalog": ChannelParameter(type=standard_artifacts.Examples),
        "previous_window": ChannelParameter(type=SpanWindow, optional=True),
    }
    OUTPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "window": ChannelParameter(type=SpanWindow),
    }


class _Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        data = DataConfig.from_json(exec_properties["data"])
        spans = bool(exec_properties["spans"])
        range_config = range_config_pb2.RangeConfig()
        proto_utils.json_to_proto(exec_properties["range_config"], range_config)
        events = artifact_utils.get_single_instance(input_dict["events"])
        examples = artifact_utils.get_single_instance(output_dict["examples"])
        window_artifact = artifact_utils.get_single_instance(output_dict["window"])
        previous = input_dict.get("previous_window")
        span = events.get_int_custom_property(SPAN)  # set by ExampleGen's driver
        newest = SpanEntry(span, events.uri, examples.uri, None)
        window = next_window(read_window(previous[0].uri if previous else None), newest,
                             range_config.rolling_range.num_spans if spans else 1)
        before = window[-2] if len(window) > 1 else None
        plan = SplitPlan(data.holdout_last, data.min_user_interactions, data.max_history,
                         newest_span=span if spans else None,
                         previous_span=before.span if before else None,
                         previous_cutoff=before.cutoff if before else None)
        catalog = read_frame(split_files(artifact_utils.get_single_instance(input_dict["catalog"])),
                             (F.ITEM_ID, F.TITLE, F.GENRES, F.TEXT))
        features = {item: (title, genres, text) for item, title, genres, text in catalog.itertuples(
            index=False, name=None)}
        examples.split_names = artifact_utils.encode_split_names([TRAIN, EVAL, EVAL_UNSCORED])
        pipeline = self._make_beam_pipeline()
        parts = []
        for entry in window:
            parts.append(pipeline
                         | f"Read[{entry.span}]" >> beam.io.ReadFromTFRecord(os.path.join(entry.events, "Split-events",
                                                                                          "*"))
                         | f"Parse[{entry.span}]" >> beam.Map(_event, entry.span))
        by_user = parts | "Window" >> beam.Flatten()
        side = {}
        if spans:
            cutoff = (by_user | "Newest" >> beam.Filter(lambda event: event[1][3] == span)
                      | "Times" >> beam.Map(lambda event: event[1][0])
                      | "Quantiles" >> beam.ApproximateQuantiles.Globally(101)
                      | "Cutoff" >> beam.Map(_cutoff, data.span_eval_fraction))
            _ = cutoff | "WriteCutoff" >> beam.Map(_write_json, os.path.join(examples.uri, _CUTOFF))
            side["cutoff"] = beam.pvalue.AsSingleton(cutoff)
        elif data.cold_item_fraction:
            side["cold"] = beam.pvalue.AsSingleton(
                by_user | "Items" >> beam.Map(lambda event: event[1][1]) | "Distinct" >> beam.Distinct()
                | "AllItems" >> beam.combiners.ToList()
                | "ColdItems" >> beam.Map(cold_items, data.cold_item_fraction))
        split = (by_user | "ByUser" >> beam.GroupByKey()
                 | "Split" >> beam.ParDo(_SplitUsers(plan, features), **side).with_outputs(TRAIN, EVAL, _TRAINED,
                                                                                          _REPEATS))
        trained = beam.pvalue.AsDict(split[_TRAINED] | "TrainCounts" >> beam.combiners.Count.PerElement())
        scored, unscored = _sample(split[EVAL], exec_properties["eval_examples"])
        for name, part in ((TRAIN, split[TRAIN]), (EVAL, scored), (EVAL_UNSCORED, unscored)):
            _ = (part | f"Serialize[{name}]" >> beam.ParDo(_Serialize(name), trained=trained)
                 | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                os.path.join(artifact_utils.get_split_uri([examples], name), "data_tfrecord"), file_name_suffix=".gz"))
        _ = (split[_REPEATS] | "SomeRepeats" >> beam.combiners.Sample.FixedSizeGlobally(3)
             | "WriteRepeats" >> beam.Map(_write_json, os.path.join(examples.uri, "repeats.json")))
        result = pipeline.run()
        result.wait_until_finish()
        counts = collections.Counter()  # a counter of one name in several steps (the eval splits) is summed
        for counter in result.metrics().query(MetricsFilter().with_namespace(_COUNTERS))["counters"]:
            counts[counter.key.metric.name] += counter.committed
        self._finish(examples, window_artifact, window, spans, counts)

    @staticmethod
    def _finish(examples, window_artifact, window: list[SpanEntry], spans: bool, counts: dict) -> None:
        if spans:
            with tf.io.gfile.GFile(os.path.join(examples.uri, _CUTOFF)) as handle:
                window[-1] = dataclasses.replace(window[-1], cutoff=json.load(handle))
        with tf.io.gfile.GFile(os.path.join(examples.uri, "repeats.json")) as handle:
            repeats = json.load(handle)
        _write_json({"train": counts.get(TRAIN, 0), "eval": counts.get(EVAL, 0),
                     "eval_scored": counts.get(_SCORED, 0),
                     "eval_target_groups": {group: counts.get(f"{_GROUP}{group}", 0) for group in F.TARGET_GROUPS},
                     "repeated_events": {"count": counts.get(_REPEATS, 0), "examples": repeats},
                     "window": [entry.span for entry in window]}, os.path.join(examples.uri, REPORT_FILE))
        write_window(window_artifact.uri, window)
        examples.set_int_custom_property(SPAN, window[-1].span)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")


def read_split_report(examples_uri: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(examples_uri, REPORT_FILE)) as handle:
        return json.load(handle)


class TimeSplit(base_beam_component.BaseBeamComponent):
    """TimeSplit(events, catalog, previous_window, data, spans, range_config, eval_examples, code)."""

    SPEC_CLASS = TimeSplitSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_Executor)

    def __init__(self, events: types.BaseChannel, catalog: types.BaseChannel, data: str, spans: bool,
                 range_config: range_config_pb2.RangeConfig, eval_examples: int, code: str,
                 previous_window: types.BaseChannel | None = None):
        super().__init__(spec=TimeSplitSpec(
            events=events, catalog=catalog, previous_window=previous_window, data=data, spans=int(spans),
            range_config=range_config, eval_examples=eval_examples, code=code,
            examples=types.Channel(type=standard_artifacts.Examples), window=types.Channel(type=SpanWindow)))
