"""The pipeline, defined once: `create_pipeline` alone holds everything a runner needs; the runners (local_runner.py,
beam_runner.py, kubeflow_v2_runner.py) only choose where it runs, its metadata store and its Beam settings.

EventExampleGen (newest span) ── StatisticsGen ─ ExampleValidator (schemas/events.pbtxt) ─ AnomalyGate
CatalogExampleGen (newest) ─┐                                                                    │
        │                   └──────── TimeSplit (◄ PreviousWindowResolver: the rolling window) ◄─┘
        └─ ContentEmbedder ─┐           ├─ WindowTransform (◄ AnalyzerCacheResolver)
                            │           ├─ Baselines (popularity, item-kNN, content-only, random)
                            └───────────┴─ [CatalogTuner ─] CatalogTrainer (◄ LatestBlessedModelResolver: warm start)
                                              └─ Evaluator (vs the latest blessed model) ─ ModelPusher

Only the latest-artifact and latest-blessed-model resolvers are used: every orchestrator runs them, Kubeflow V2 and
Vertex AI included. Every avrec component carries the fingerprint of its code (avrec.fingerprint).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from avrec import contract
from avrec.components.anomaly_gate import AnomalyGate
from avrec.components.artifacts import SpanWindow
from avrec.components.catalog_trainer import CatalogTrainer
from avrec.components.catalog_tuner import CatalogTuner
from avrec.components.content_embedder import ContentEmbedder
from avrec.components.ingest import example_gens
from avrec.components.ingest.config import custom_config as ingest_config
from avrec.components.ingest.example_gens import CatalogExampleGen, EventExampleGen, span_input
from avrec.components.ingest.time_split import TimeSplit
from avrec.components.pusher import ModelPusher
from avrec.components.score_baselines import Baselines
from avrec.components.window_transform import WindowTransform
from avrec.config import SCHEMA_DIR, RunConfig
from avrec.data.spans import span_numbers
from avrec.data.split import EVAL, TRAIN
from avrec.features import COLD, MODALITIES, RATING, TARGET_GROUP
from avrec.fingerprint import code_fingerprint
from avrec.models.tuner import TUNE_KEY
from avrec.models.metrics import CURVE_KS, PROTOCOL_OUTPUTS, REPORTED, RecallAtK, curve_name, tfma_name

PIPELINE_NAME = "avrec"
BLESSING_METRIC = "recall@50"
PREPROCESSING_FN = "avrec.models.preprocessing.preprocessing_fn"
RUN_FN = "avrec.models.trainer.run_fn"
TUNER_FN = "avrec.models.tuner.tuner_fn"
# Rank is the only prediction; TFMA needs some label, which the rank metrics ignore.
EVAL_LABEL = RATING


def _metric(metric_class, k: int, name: str, thresholds=()) -> tfma.MetricConfig:
    return tfma.MetricConfig(class_name=metric_class.__name__, module=metric_class.__module__,
                             config=f'{{"k": {k}, "name": "{tfma_name(name)}"}}', per_slice_thresholds=thresholds)


def _blessing(config: RunConfig) -> list:
    """On the whole eval split's next-item ranks only: the slices and the future protocol are reported, not gated."""
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": config.eval.min_recall_at_50}),
        change_threshold=tfma.GenericChangeThreshold(direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                                                     absolute={"value": -config.eval.max_recall_drop - 1e-9}))
    return [tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)]


def eval_config(config: RunConfig) -> tfma.EvalConfig:
    """Both protocols (models.metrics.PROTOCOLS) as outputs of the `evaluate` signature, the next-item one with the
    Recall@K curve; with content, the next-item ranks with each pretrained modality toggled (the ablation)."""
    next_item = [_metric(metric_class, k, name, _blessing(config) if name == BLESSING_METRIC else ())
                 for name, (metric_class, k) in REPORTED.items()]
    next_item += [_metric(RecallAtK, k, curve_name(k)) for k in CURVE_KS if curve_name(k) not in REPORTED]
    plain = [_metric(metric_class, k, name) for name, (metric_class, k) in REPORTED.items()]
    ablations = [contract.ablation_rank(modality) for modality in (MODALITIES if config.model.content else ())]
    outputs = [*PROTOCOL_OUTPUTS.values(), *ablations]
    return tfma.EvalConfig(
        # TFMA's output names are the signature's output names: one label (ignored) for each.
        model_specs=[tfma.ModelSpec(signature_name=contract.EVALUATE, label_keys=dict.fromkeys(outputs, EVAL_LABEL))],
        # Overall, warm (cold = 0) versus cold-start (cold = 1) target items, and by target group (few, cold).
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[COLD]),
                       tfma.SlicingSpec(feature_keys=[TARGET_GROUP])],
        metrics_specs=[tfma.MetricsSpec(metrics=next_item, output_names=[PROTOCOL_OUTPUTS["next"]]),
                       tfma.MetricsSpec(metrics=plain, output_names=[PROTOCOL_OUTPUTS["future"], *ablations])])


def _module(function_path: str) -> str:
    return function_path.rpartition(".")[0]


def _latest(channel_type, key: str, node_id: str) -> tfx.dsl.Resolver:
    return tfx.dsl.Resolver(strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
                            **{key: tfx.dsl.Channel(type=channel_type)}).with_id(node_id)


def create_pipeline(config: RunConfig, pipeline_root: str, metadata_connection_config=None,
                    beam_pipeline_args: Sequence[str] = (), spans: bool | None = None,
                    schema_dir: Path = SCHEMA_DIR) -> tfx.dsl.Pipeline:
    """spans: whether the data is a directory of span folders (None: look); schema_dir: where the curated schemas
    are as the tasks see them."""
    data = config.data
    spans = bool(span_numbers(data.source_path)) if spans is None else spans

    def trainer_config(function_path: str) -> dict:
        return {"model": config.model.to_dict(), "encoders": config.encoders.to_dict(),
                "code": code_fingerprint(_module(function_path))}

    ingest = ingest_config(data, code_fingerprint(example_gens.__name__))
    events = EventExampleGen(input_base=str(data.source_path), input_config=span_input("events", spans),
                             output_config=tfx.proto.Output(), custom_config=ingest).with_id("EventExampleGen")
    catalog = CatalogExampleGen(input_base=str(data.source_path), input_config=span_input("items", spans),
                                output_config=tfx.proto.Output(), custom_config=ingest).with_id("CatalogExampleGen")
    statistics = tfx.components.StatisticsGen(examples=events.outputs["examples"])
    events_schema = tfx.components.ImportSchemaGen(schema_file=str(schema_dir / "events.pbtxt")).with_id(
        "EventSchemaGen")
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"],
                                                schema=events_schema.outputs["schema"])
    gate = AnomalyGate(anomalies=validator.outputs["anomalies"], code=code_fingerprint(AnomalyGate.__module__))

    # Only spans have a window to carry from run to run; one dataset reruns from the cache when nothing changed.
    previous_window = _latest(SpanWindow, "window", "PreviousWindowResolver") if spans else None
    previous_cache = (_latest(tfx.types.standard_artifacts.TransformCache, "cache", "AnalyzerCacheResolver")
                      if spans else None)
    time_split = TimeSplit(
        events=events.outputs["examples"], catalog=catalog.outputs["examples"],
        previous_window=previous_window.outputs["window"] if spans else None, data=data.to_json(), spans=spans,
        range_config=tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(num_spans=data.span_window)),
        eval_examples=config.eval.eval_examples, group_events=config.pipeline.group_events,
        code=code_fingerprint(TimeSplit.__module__))
    time_split.add_upstream_node(gate)
    examples, window = time_split.outputs["examples"], time_split.outputs["window"]

    content = None
    if config.model.content:
        content = ContentEmbedder(catalog=catalog.outputs["examples"], encoders=config.encoders.to_json(),
                                  cache_dir=str(config.embedding_cache),
                                  code=code_fingerprint(ContentEmbedder.__module__))
    content_embeddings = content.outputs["content"] if content else None

    schema = tfx.components.ImportSchemaGen(schema_file=str(schema_dir / "interactions.pbtxt"))
    transform = WindowTransform(
        examples=examples, window=window, schema=schema.outputs["schema"], preprocessing_fn=PREPROCESSING_FN,
        custom_config=trainer_config(PREPROCESSING_FN),
        analyzer_cache=previous_cache.outputs["cache"] if spans else None,
        splits_config=tfx.proto.SplitsConfig(analyze=[TRAIN], transform=[TRAIN, EVAL]))

    baselines = Baselines(examples=examples, window=window, catalog=catalog.outputs["examples"],
                          content=content_embeddings, eval_config=config.eval.to_json(),
                          code=code_fingerprint(Baselines.__module__))

    latest_blessed = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("LatestBlessedModelResolver")
    training = dict(examples=transform.outputs["transformed_examples"],
                    transform_graph=transform.outputs["transform_graph"], schema=schema.outputs["schema"],
                    catalog=catalog.outputs["examples"], content=content_embeddings,
                    train_args=tfx.proto.TrainArgs(splits=[TRAIN]), eval_args=tfx.proto.EvalArgs(splits=[EVAL]))
    tuner = None
    if config.tune.trials:
        tuner = CatalogTuner(tuner_fn=TUNER_FN, **training,
                             custom_config={**trainer_config(TUNER_FN), TUNE_KEY: config.tune.to_dict()})
    trainer = CatalogTrainer(
        base_model=latest_blessed.outputs["model"] if spans and config.model.warm_start else None,
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        run_fn=RUN_FN, custom_config=trainer_config(RUN_FN), **training)
    evaluator = tfx.components.Evaluator(
        examples=examples, model=trainer.outputs["model"], baseline_model=latest_blessed.outputs["model"],
        eval_config=eval_config(config), example_splits=[EVAL])
    pusher = ModelPusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(config.model_base_path))),
        custom_config={"code": code_fingerprint(ModelPusher.__module__),
                       "keep_versions": config.pipeline.keep_versions})

    return tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME, pipeline_root=pipeline_root,
        components=[events, catalog, statistics, events_schema, validator, gate,
                    *([previous_window, previous_cache] if spans else []), time_split,
                    *([content] if content else []), schema, transform, baselines, latest_blessed,
                    *([tuner] if tuner else []), trainer,
                    evaluator, pusher],
        enable_cache=True, metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args))
