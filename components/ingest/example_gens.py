"""ExampleGens over one span of a source dataset, in any supported layout (avrec.data.formats): EventExampleGen writes
its interactions as canonical events, CatalogExampleGen its catalog.

TFX's file-based driver resolves the span (`span-{SPAN}/*`, or the one dataset directory as span 0), so each span is
read once and cached. The events file is cut into chunks that Beam workers read and check in parallel (memory per
worker is one chunk); the bad rows of every chunk and of the catalog files merge into `bad_rows.json` in the events
artifact, and more than `max_bad_fraction` of a file's rows stops the run with the file, reason and lines named.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
from tfx.components.example_gen import component, utils
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from avrec import features as F
from avrec.components.ingest.config import data_config
from avrec.data.adapters import catalog_ids
from avrec.data.events import EventSource, read_events
from avrec.data.examples import serialize, serialize_rows
from avrec.data.formats import open_source
from avrec.data.report import BadRowReport
from avrec.data.table import Chunk
from avrec.errors import DataError

BAD_ROWS_FILE = "bad_rows.json"
EVENT_COUNT = "events"  # the custom property of the events artifact: its usable events (TimeSplit shards by it)
EVENT_FEATURES = (F.USER_ID, F.ITEM_ID, F.RATING, F.TIMESTAMP)
_REPORTS = "reports"


def _split_root(exec_properties: dict, split_pattern: str) -> Path:
    """The dataset directory of a resolved split pattern (`span-3/*`, or `*` for the input base itself)."""
    return Path(os.path.dirname(os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                                             split_pattern)))


class _ReadChunk(beam.DoFn):
    """A chunk of the events file -> serialized event Examples, and its bad-row report (tagged)."""

    def __init__(self, source: EventSource, item_ids: list[str]):
        self._source, self._item_ids = source, item_ids

    def setup(self):
        self._catalog = pa.array(self._item_ids, pa.large_string())

    def process(self, chunk: Chunk):
        report = BadRowReport()
        events = read_events(self._source, self._catalog, report, chunk)
        for user, item, rating, timestamp in events.itertuples(index=False, name=None):
            yield serialize({F.USER_ID: user, F.ITEM_ID: item, F.RATING: float(rating), F.TIMESTAMP: int(timestamp)})
        yield beam.pvalue.TaggedOutput(_REPORTS, report.to_dict())


def _write_report(reports: list[dict], path: str) -> None:
    with open(path, "w") as handle:
        json.dump(BadRowReport.merged(BadRowReport.from_dict(report) for report in reports).to_dict(), handle,
                  indent=2)


class _Executor(BaseExampleGenExecutor):
    """Writes one output split per input split, without ExampleGen's global reshuffle (the rows of a span need no
    shuffling: the next step groups them by user)."""

    def records(self, pipeline, split_pattern: str, exec_properties: dict, artifact_uri: str):
        raise NotImplementedError

    def GetInputSourceToExamplePTransform(self):
        raise NotImplementedError("records() replaces it")

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        names = [split.name for split in input_config.splits]
        examples.split_names = artifact_utils.encode_split_names(names)
        with self._make_beam_pipeline() as pipeline:
            for split in input_config.splits:
                records = self.records(pipeline, split.pattern, exec_properties, examples.uri)
                _ = records | f"Write[{split.name}]" >> beam.io.WriteToTFRecord(
                    os.path.join(artifact_utils.get_split_uri([examples], split.name), "data_tfrecord"),
                    file_name_suffix=".gz")
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        self.check(examples, exec_properties)

    def check(self, examples, exec_properties: dict) -> None:
        """Raises a user error when what was read cannot be used."""


class _EventsExecutor(_Executor):
    def records(self, pipeline, split_pattern, exec_properties, artifact_uri):
        data = data_config(exec_properties)
        report = BadRowReport()
        source = open_source(_split_root(exec_properties, split_pattern), data.format, report)
        chunks = source.events.chunks()
        self._events_file = source.events.path.name
        read = (pipeline | "Chunks" >> beam.Create(chunks) | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(_ReadChunk(source.events, source.catalog[F.ITEM_ID].tolist()))
                .with_outputs(_REPORTS, main="events"))
        _ = ((read[_REPORTS], pipeline | "CatalogReport" >> beam.Create([report.to_dict()]))
             | "Reports" >> beam.Flatten() | "AllReports" >> beam.combiners.ToList()
             | "WriteReport" >> beam.Map(_write_report, os.path.join(artifact_uri, BAD_ROWS_FILE)))
        return read.events

    def check(self, examples, exec_properties):
        report = read_bad_rows(examples.uri)
        report.check(data_config(exec_properties).max_bad_fraction)
        events = report.to_dict()["files"].get(self._events_file, {"rows": 0, "bad": 0})
        if events["rows"] == events["bad"]:
            raise DataError(f"no usable interactions in {self._events_file} ({events['bad']} bad rows skipped)")
        examples.set_int_custom_property(EVENT_COUNT, events["rows"] - events["bad"])


def read_bad_rows(artifact_uri: str) -> BadRowReport:
    with open(os.path.join(artifact_uri, BAD_ROWS_FILE)) as handle:
        return BadRowReport.from_dict(json.load(handle))


class _CatalogExecutor(_Executor):
    def records(self, pipeline, split_pattern, exec_properties, artifact_uri):
        source = open_source(_split_root(exec_properties, split_pattern), data_config(exec_properties).format, BadRowReport())
        return pipeline | "Catalog" >> beam.Create(serialize_rows(source.catalog, F.CATALOG_FEATURES))


class EventExampleGen(component.FileBasedExampleGen):
    """FileBasedExampleGen(input_base, input_config, custom_config=ingest.config.custom_config(...))."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_EventsExecutor)


class CatalogExampleGen(component.FileBasedExampleGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_CatalogExecutor)


def span_input(split: str, spans: bool) -> example_gen_pb2.Input:
    """One input split over a whole dataset directory: the newest `span-{SPAN}` folder, or the input base itself."""
    return example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
        name=split, pattern=f"span-{utils.SPAN_SPEC}/*" if spans else "*")])
