"""TFX's Transform over the whole window of spans, with its analyzer cache.

Its `examples` input is the newest span's examples; the SpanWindow input names the older spans' examples, which the
executor adds before running the stock Transform executor. Each span's examples artifact is written once and never
changes, so the analyzer cache (from the previous run's Transform) answers for every older span and only the new
one is analyzed. Transformed examples come out one artifact per span, and the Trainer trains on all of them.
"""
from __future__ import annotations

from tfx import types
from tfx.components.transform import executor as transform_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import transform_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.standard_component_specs import TransformSpec
from tfx.utils import json_utils

from avrec.components.artifacts import SpanWindow
from avrec.components.ingest.window import read_window

WINDOW_KEY = "window"


def window_examples(newest: types.Artifact, window_uri: str) -> list[types.Artifact]:
    """The window's examples artifacts, oldest first, the newest being `newest` itself."""
    artifacts = []
    for entry in read_window(window_uri):
        if entry.examples == newest.uri:
            artifacts.append(newest)
            continue
        older = standard_artifacts.Examples()
        older.uri, older.split_names = entry.examples, newest.split_names
        older.set_int_custom_property("span", entry.span)
        examples_utils.set_payload_format(older, examples_utils.get_payload_format(newest))
        examples_utils.set_file_format(older, examples_utils.get_file_format(newest))
        artifacts.append(older)
    return artifacts


class WindowTransformSpec(TransformSpec):
    INPUTS = {**TransformSpec.INPUTS, WINDOW_KEY: ChannelParameter(type=SpanWindow)}


class _Executor(transform_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        newest = artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY])
        window_uri = artifact_utils.get_single_uri(input_dict[WINDOW_KEY])
        expanded = {**input_dict, standard_component_specs.EXAMPLES_KEY: window_examples(newest, window_uri)}
        super().Do(expanded, output_dict, exec_properties)


class WindowTransform(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = WindowTransformSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(_Executor)

    def __init__(self, examples: types.BaseChannel, window: types.BaseChannel, schema: types.BaseChannel,
                 preprocessing_fn: str, custom_config: dict, splits_config: transform_pb2.SplitsConfig,
                 analyzer_cache: types.BaseChannel | None = None):
        super().__init__(spec=WindowTransformSpec(
            examples=examples, window=window, schema=schema, analyzer_cache=analyzer_cache,
            preprocessing_fn=preprocessing_fn, custom_config=json_utils.dumps(custom_config),
            splits_config=splits_config, force_tf_compat_v1=0, disable_statistics=1,
            transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
            transformed_examples=types.Channel(type=standard_artifacts.Examples),
            updated_analyzer_cache=types.Channel(type=standard_artifacts.TransformCache)))
