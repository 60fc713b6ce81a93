"""TFX's Trainer with two more inputs: the item catalog and, optionally, its pretrained content embeddings.

The exported model indexes every catalog item, including items nobody interacted with in training, so run_fn needs
the catalog's Examples; the stock Trainer takes a single Examples channel. The executor passes the catalog's file
pattern and the content artifact's location to run_fn through custom_config, which keeps both artifacts tracked in
ML Metadata and part of the cache key.
"""
from __future__ import annotations


from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.types.standard_component_specs import TrainerSpec
from tfx.utils import json_utils

from avrec.components.artifacts import ContentEmbeddings, split_files
from avrec.models.training import CATALOG_PATTERN_KEY, CONTENT_URI_KEY

CATALOG_KEY = "catalog"
CONTENT_KEY = "content"


class CatalogTrainerSpec(TrainerSpec):
    INPUTS = {**TrainerSpec.INPUTS, CATALOG_KEY: ChannelParameter(type=standard_artifacts.Examples),
              CONTENT_KEY: ChannelParameter(type=ContentEmbeddings, optional=True)}


def catalog_config(input_dict) -> dict:
    """Where the module finds the catalog's files and the content embeddings (custom_config entries)."""
    extra = {CATALOG_PATTERN_KEY: split_files(artifact_utils.get_single_instance(input_dict[CATALOG_KEY]))}
    if input_dict.get(CONTENT_KEY):
        extra[CONTENT_URI_KEY] = artifact_utils.get_single_uri(input_dict[CONTENT_KEY])
    return extra


class CatalogTrainerExecutor(trainer_executor.GenericExecutor):
    def _GetFnArgs(self, input_dict, output_dict, exec_properties):
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        fn_args.custom_config = {**(fn_args.custom_config or {}), **catalog_config(input_dict)}
        return fn_args


class CatalogTrainer(base_component.BaseComponent):
    """Trainer(examples, transform_graph, schema, run_fn, base_model, hyperparameters, ...) plus `catalog` and
    optional `content`;
    `examples` may hold one transformed artifact per span of the window: it trains on all their train splits."""

    SPEC_CLASS = CatalogTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(CatalogTrainerExecutor)

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel, schema: types.BaseChannel,
                 catalog: types.BaseChannel, run_fn: str, custom_config: dict,
                 train_args: trainer_pb2.TrainArgs, eval_args: trainer_pb2.EvalArgs,
                 content: types.BaseChannel | None = None, base_model: types.BaseChannel | None = None,
                 hyperparameters: types.BaseChannel | None = None):
        super().__init__(spec=CatalogTrainerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema, catalog=catalog, content=content,
            base_model=base_model, hyperparameters=hyperparameters, run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config), train_args=train_args, eval_args=eval_args,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun)))
