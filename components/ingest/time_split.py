"""TimeSplit: the events of a window of spans -> the newest span's train/eval examples with history features.

Events are grouped by user on Beam, split by avrec.data.split, joined with the target item's catalog features and
written as the `train`, `eval` and `eval_unscored` splits of one Examples artifact per span, which later runs reuse
unchanged (its span is the artifact's `span` custom property, as ExampleGen's). The window itself travels as a
SpanWindow artifact from run to run (window.py). `split_report.json` counts the examples, the repeated events left
out and the user shards (split_steps.py: the Beam pipelines, and why a log is grouped in shards). Every example made
must have been written, or the run stops.

Scoring an example ranks the whole catalog, so evaluation costs examples x items: `eval` holds at most
`eval_examples` of the evaluation examples (those of lowest avrec.data.split.example_hash over the whole window,
found by bounded combines), and the rest are written to `eval_unscored`, counted, never scored.
"""
from __future__ import annotations

import collections
import dataclasses
import os

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
from avrec.components.ingest import split_steps as steps
from avrec.components.ingest.example_gens import EVENT_COUNT
from avrec.components.ingest.window import SpanEntry, next_window, read_window, write_window
from avrec.config import DataConfig
from avrec.data.examples import read_frame
from avrec.data.split import EVAL, EVAL_UNSCORED, TRAIN, SplitPlan
from avrec.errors import AvrecError

REPORT_FILE = "split_report.json"
SPAN = "span"  # the custom property ExampleGen gives each span's artifact
_STAGING = "_staging"  # under the examples while TimeSplit runs: shards, staged evaluation examples, summaries


class TimeSplitSpec(ComponentSpec):
    PARAMETERS = {
        "data": ExecutionParameter(type=str),  # DataConfig as JSON
        "spans": ExecutionParameter(type=int),  # 1: span folders (time cut); 0: one dataset (per-user holdout)
        "range_config": ExecutionParameter(type=range_config_pb2.RangeConfig),  # rolling_range.num_spans
        "eval_examples": ExecutionParameter(type=int),  # EvalConfig.eval_examples: at most this many scored
        "group_events": ExecutionParameter(type=int),  # PipelineConfig.group_events: events grouped at a time
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
        newest = SpanEntry(span, events.uri, examples.uri, None, events.get_int_custom_property(EVENT_COUNT))
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
        staging = os.path.join(examples.uri, _STAGING)
        tf.io.gfile.makedirs(staging)
        sources = {entry.span: os.path.join(entry.events, "Split-events", "*") for entry in window}
        shards = steps.shard_count(sum(entry.events_count for entry in window), exec_properties["group_events"])
        counts = collections.Counter()  # a counter of one name in several steps or pipelines is summed
        if shards > 1 or spans or data.cold_item_fraction:
            counts += self._run(lambda pipeline: steps.prepare(
                pipeline, sources, shards, staging, span if spans else None, data.span_eval_fraction,
                data.cold_item_fraction))
        if spans:
            plan = dataclasses.replace(plan, cutoff=steps.read_fact(staging, steps.CUTOFF))
        elif data.cold_item_fraction:
            plan = dataclasses.replace(plan, cold=frozenset(steps.read_fact(staging, steps.COLD)))
        eval_examples = exec_properties["eval_examples"]
        train_prefix = os.path.join(artifact_utils.get_split_uri([examples], TRAIN), "data_tfrecord")
        for shard in range(shards):
            counts += self._run(lambda pipeline: steps.split_shard(
                steps.read_shard(pipeline, staging, shard) if shards > 1 else steps.read_events(pipeline, sources),
                plan, features, shard, train_prefix, staging, eval_examples))
        trained, highest, repeats = steps.merged_summaries(staging, shards, eval_examples)
        counts += self._run(lambda pipeline: steps.finish(pipeline, staging, trained, highest, {
            name: os.path.join(artifact_utils.get_split_uri([examples], name), "data_tfrecord")
            for name in (EVAL, EVAL_UNSCORED)}))
        if spans:
            window[-1] = dataclasses.replace(window[-1], cutoff=plan.cutoff)
        tf.io.gfile.rmtree(staging)
        self._finish(examples, window_artifact, window, counts, repeats, shards)

    def _run(self, build) -> collections.Counter:
        """Builds one Beam pipeline, runs it to the end and returns its counters."""
        pipeline = self._make_beam_pipeline()
        build(pipeline)
        result = pipeline.run()
        result.wait_until_finish()
        counts = collections.Counter()
        for counter in result.metrics().query(MetricsFilter().with_namespace(steps.COUNTERS))["counters"]:
            counts[counter.key.metric.name] += counter.committed
        return counts

    @staticmethod
    def _finish(examples, window_artifact, window: list[SpanEntry], counts: dict, repeats: list,
                shards: int) -> None:
        written = check_written(examples, counts.get(TRAIN, 0), counts.get(EVAL, 0))
        steps.write_json({
            "train": counts.get(TRAIN, 0), "eval": counts.get(EVAL, 0), "eval_scored": written[EVAL],
            "eval_target_groups": {group: counts.get(f"{steps.GROUP}{group}", 0) for group in F.TARGET_GROUPS},
            "repeated_events": {"count": counts.get(steps.REPEATS, 0), "examples": repeats},
            "window": [entry.span for entry in window], "user_shards": shards},
            os.path.join(examples.uri, REPORT_FILE))
        write_window(window_artifact.uri, window)
        examples.set_int_custom_property(SPAN, window[-1].span)
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")


def _records(split_uri: str) -> int:
    files = tf.io.gfile.glob(os.path.join(split_uri, "*"))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)) if files else 0


def check_written(examples, train: int, evaluated: int) -> dict[str, int]:
    """The records in each split's files, which must be every example made: a runner that loses output stops the run
    instead of training on a silently smaller log (the DirectRunner with two workers once wrote 1,870,807 of the
    1,872,000 training examples an earlier form of this step made, with no error)."""
    written = {split: _records(artifact_utils.get_split_uri([examples], split))
               for split in (TRAIN, EVAL, EVAL_UNSCORED)}
    if written[TRAIN] != train or written[EVAL] + written[EVAL_UNSCORED] != evaluated:
        raise AvrecError(f"TimeSplit made {train} training and {evaluated} evaluation examples but the Beam runner "
                         f"wrote {written}; nothing was trained on them, rerun")
    return written


def read_split_report(examples_uri: str) -> dict:
    return steps.read_json(os.path.join(examples_uri, REPORT_FILE))


class TimeSplit(base_beam_component.BaseBeamComponent):
    """TimeSplit(events, catalog, previous_window, data, spans, range_config, eval_examples, group_events, code)."""

    SPEC_CLASS = TimeSplitSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_Executor)

    def __init__(self, events: types.BaseChannel, catalog: types.BaseChannel, data: str, spans: bool,
                 range_config: range_config_pb2.RangeConfig, eval_examples: int, group_events: int, code: str,
                 previous_window: types.BaseChannel | None = None):
        super().__init__(spec=TimeSplitSpec(
            events=events, catalog=catalog, previous_window=previous_window, data=data, spans=int(spans),
            range_config=range_config, eval_examples=eval_examples, group_events=group_events, code=code,
            examples=types.Channel(type=standard_artifacts.Examples), window=types.Channel(type=SpanWindow)))
