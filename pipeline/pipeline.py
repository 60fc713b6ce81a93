"""The pipeline, defined once; runners (pipeline/local_runner.py) decide where it runs and pass in its metadata
store and Beam settings.

ImportExampleGen (interactions: time-split train/eval) ─┬─ StatisticsGen ─ ExampleValidator ─ AnomalyGate
ImportSchemaGen (schemas/interactions.pbtxt) ───────────┘                                        │
ImportExampleGen (catalog) ──┬── ContentEmbedder ─┬────────────────── Transform ◄───────────────┘
                             │                    ├── Baselines (popularity, item-kNN, content-only, random)
                             └────────────────────┴──────────────── CatalogTrainer ─ Evaluator ─ ModelPusher
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from avrec import contract
from avrec.components.anomaly_gate import AnomalyGate
from avrec.components.catalog_trainer import CatalogTrainer
from avrec.components.content_embedder import ContentEmbedder
from avrec.components.pusher import ModelPusher
from avrec.components.score_baselines import Baselines
from avrec.config import SCHEMA_DIR, RunConfig
from avrec.data.prepare import CATALOG_PATTERN, EVAL_PATTERN, TRAIN_PATTERN
from avrec.features import COLD, RATING
from avrec.fingerprint import code_fingerprint
from avrec.models.metrics import REPORTED, tfma_name

PIPELINE_NAME = "avrec"
BLESSING_METRIC = "recall@50"
PREPROCESSING_FN = "avrec.models.preprocessing.preprocessing_fn"
RUN_FN = "avrec.models.trainer.run_fn"
# Rank is the only prediction; TFMA needs some label, which the rank metrics ignore.
EVAL_LABEL = RATING


def eval_config(config: RunConfig) -> tfma.EvalConfig:
    metrics = []
    for name, (metric_class, k) in REPORTED.items():
        thresholds = []
        if name == BLESSING_METRIC:
            # On the whole eval split only: the warm/cold slices are reported, not gated.
            threshold = tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": config.eval.min_recall_at_50}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -config.eval.max_recall_drop - 1e-9}))
            thresholds = [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)]
        metrics.append(tfma.MetricConfig(class_name=metric_class.__name__, module=metric_class.__module__,
                                         config=f'{{"k": {k}, "name": "{tfma_name(name)}"}}',
                                         per_slice_thresholds=thresholds))
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name=contract.EVALUATE, label_key=EVAL_LABEL,
                                    prediction_key=contract.RANK)],
        # Overall, and warm (cold = 0) versus cold-start (cold = 1) target items.
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[COLD])],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)])


def _function_module(path: str) -> str:
    return path.rpartition(".")[0]


def create_pipeline(config: RunConfig, prepared_root: Path, pipeline_root: Path, metadata_connection_config,
                    beam_pipeline_args: Sequence[str] = ()) -> tfx.dsl.Pipeline:
    def custom_config(function_path: str) -> dict:
        return {"model": config.model.to_dict(), "encoders": config.encoders.to_dict(),
                "code": code_fingerprint(_function_module(function_path))}

    interactions = tfx.components.ImportExampleGen(
        input_base=str(prepared_root),
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="train", pattern=TRAIN_PATTERN),
                                             tfx.proto.Input.Split(name="eval", pattern=EVAL_PATTERN)]),
    ).with_id("InteractionExampleGen")
    catalog = tfx.components.ImportExampleGen(
        input_base=str(prepared_root),
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="items", pattern=CATALOG_PATTERN)]),
        # One input split would otherwise be hash-partitioned into train/eval: keep every item in one split.
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(
            splits=[tfx.proto.SplitConfig.Split(name="items", hash_buckets=1)])),
    ).with_id("CatalogExampleGen")

    content = None
    if config.model.content:
        content = ContentEmbedder(catalog=catalog.outputs["examples"], encoders=config.encoders.to_json(),
                                  cache_dir=str(config.embedding_cache),
                                  code=code_fingerprint(ContentEmbedder.__module__))

    statistics = tfx.components.StatisticsGen(examples=interactions.outputs["examples"])
    schema = tfx.components.ImportSchemaGen(schema_file=str(SCHEMA_DIR / "interactions.pbtxt"))
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"],
                                                schema=schema.outputs["schema"])
    gate = AnomalyGate(anomalies=validator.outputs["anomalies"], code=code_fingerprint(AnomalyGate.__module__))

    transform = tfx.components.Transform(
        examples=interactions.outputs["examples"], schema=schema.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, custom_config=custom_config(PREPROCESSING_FN),
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]))
    transform.add_upstream_node(gate)

    content_embeddings = content.outputs["content"] if content else None
    baselines = Baselines(examples=interactions.outputs["examples"], catalog=catalog.outputs["examples"],
                          content=content_embeddings, code=code_fingerprint(Baselines.__module__))
    baselines.add_upstream_node(gate)

    trainer = CatalogTrainer(
        examples=transform.outputs["transformed_examples"], transform_graph=transform.outputs["transform_graph"],
        schema=schema.outputs["schema"], catalog=catalog.outputs["examples"], content=content_embeddings,
        run_fn=RUN_FN, custom_config=custom_config(RUN_FN),
        train_args=tfx.proto.TrainArgs(splits=["train"]), eval_args=tfx.proto.EvalArgs(splits=["eval"]))

    latest_blessed = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("LatestBlessedModelResolver")
    evaluator = tfx.components.Evaluator(
        examples=interactions.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=latest_blessed.outputs["model"], eval_config=eval_config(config),
        example_splits=["eval"])

    pusher = ModelPusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(config.model_base_path))),
        custom_config={"code": code_fingerprint(ModelPusher.__module__)})

    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME, pipeline_root=str(pipeline_root),
        components=[interactions, catalog, *([content] if content else []), statistics, schema, validator, gate,
                    transform, baselines, trainer, latest_blessed, evaluator, pusher],
        enable_cache=True, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args))
