"""What one pipeline run produced, read back from ML Metadata: the model's metrics (warm and cold slices), the
baselines', the blessing and where the model was pushed.

Only the executions of that run count (its `pipeline_run` context): another run's newer artifacts in the same store
never leak into this run's report. Cached executions belong to the run that reused them.
"""
from __future__ import annotations

import dataclasses

import tensorflow_model_analysis as tfma
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from avrec.components.score_baselines import read_baseline_metrics
from avrec.errors import AvrecError
from avrec.features import COLD
from avrec.models.metrics import REPORTED, tfma_name

PIPELINE_RUN = "pipeline_run"


@dataclasses.dataclass
class RunResult:
    model: dict[str, float]
    cold_model: dict[str, float] | None
    baselines: dict
    blessed: bool
    pushed_model: str | None


def pipeline_run_ids(store: metadata_store.MetadataStore) -> set[int]:
    return {context.id for context in store.get_contexts_by_type(PIPELINE_RUN)}


def _outputs_of_run(store: metadata_store.MetadataStore, run_context: int) -> dict[str, metadata_store_pb2.Artifact]:
    """Artifact type name -> the newest output of that type among the run's executions."""
    executions = [execution.id for execution in store.get_executions_by_context(run_context)]
    events = [event for event in store.get_events_by_execution_ids(executions)
              if event.type == metadata_store_pb2.Event.OUTPUT]
    artifacts = store.get_artifacts_by_id(sorted({event.artifact_id for event in events}))
    types = {artifact_type.id: artifact_type.name
             for artifact_type in store.get_artifact_types_by_id(sorted({a.type_id for a in artifacts}))}
    outputs = {}
    for artifact in sorted(artifacts, key=lambda a: a.id):
        outputs[types[artifact.type_id]] = artifact
    return outputs


def _model_metrics(evaluation_uri: str) -> tuple[dict[str, float], dict[str, float] | None]:
    """(warm metrics, cold-start metrics or None). Without cold items every example is warm."""
    slices = {key: value[""][""] for key, value in tfma.load_eval_result(evaluation_uri).slicing_metrics}

    def metrics(values):
        return {name: float(values[tfma_name(name)]["doubleValue"]) for name in REPORTED}

    warm, cold = slices.get(((COLD, 0),)), slices.get(((COLD, 1),))
    return metrics(warm if warm is not None else slices[()]), (metrics(cold) if cold is not None else None)


def read_results(store: metadata_store.MetadataStore, run_context: int) -> RunResult:
    outputs = _outputs_of_run(store, run_context)
    missing = [name for name in ("ModelEvaluation", "ModelBlessing", "avrec.BaselineMetrics") if name not in outputs]
    if missing:
        raise AvrecError(f"the pipeline run recorded no {', '.join(missing)}; see the component logs above")
    pushed = outputs.get("PushedModel")
    destination = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        destination = pushed.custom_properties["pushed_destination"].string_value
    model, cold_model = _model_metrics(outputs["ModelEvaluation"].uri)
    return RunResult(model=model, cold_model=cold_model,
                     baselines=read_baseline_metrics(outputs["avrec.BaselineMetrics"].uri),
                     blessed=bool(outputs["ModelBlessing"].custom_properties["blessed"].int_value),
                     pushed_model=destination)
