"""TFX's Tuner with the CatalogTrainer's two extra inputs, the catalog and its content embeddings: a trial trains the
same model the Trainer does, over every catalog item. Its best hyperparameters feed the Trainer."""
from __future__ import annotations

from tfx import types
from tfx.components.tuner import executor as tuner_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.standard_component_specs import CUSTOM_CONFIG_KEY, TunerSpec
from tfx.utils import json_utils

from avrec.components.artifacts import ContentEmbeddings
from avrec.components.catalog_trainer import CATALOG_KEY, CONTENT_KEY, catalog_config


class CatalogTunerSpec(TunerSpec):
    INPUTS = {**TunerSpec.INPUTS, CATALOG_KEY: ChannelParameter(type=standard_artifacts.Examples),
              CONTENT_KEY: ChannelParameter(type=ContentEmbeddings, optional=True)}


class CatalogTunerExecutor(tuner_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:
        custom = json_utils.loads(exec_properties.get(CUSTOM_CONFIG_KEY) or "null") or {}
        exec_properties = {**exec_properties,
                           CUSTOM_CONFIG_KEY: json_utils.dumps({**custom, **catalog_config(input_dict)})}
        super().Do(input_dict, output_dict, exec_properties)


class CatalogTuner(base_component.BaseComponent):
    """Tuner(examples, transform_graph, schema, tuner_fn, ...) plus `catalog` and optional `content`."""

    SPEC_CLASS = CatalogTunerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(CatalogTunerExecutor)

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel, schema: types.BaseChannel,
                 catalog: types.BaseChannel, tuner_fn: str, custom_config: dict,
                 train_args: trainer_pb2.TrainArgs, eval_args: trainer_pb2.EvalArgs,
                 content: types.BaseChannel | None = None):
        super().__init__(spec=CatalogTunerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema, catalog=catalog, content=content,
            tuner_fn=tuner_fn, custom_config=json_utils.dumps(custom_config), train_args=train_args,
            eval_args=eval_args, best_hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
            tuner_results=types.Channel(type=standard_artifacts.TunerResults)))
