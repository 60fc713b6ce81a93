"""What one pipeline run produced, read back from ML Metadata: the model's metrics (warm, few-interaction and
cold slices), the
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
from avrec.features import COLD, TARGET_GROUP
from avrec.models.baselines.ranks import REPORTED_SLICES
from avrec.models.metrics import REPORTED, tfma_name

PIPELINE_RUN = "pipeline_run"
NODE = "node"


@dataclasses.dataclass
class RunResult:
    model: dict[str, float]
    model_slices: dict[str, dict[str, float]]  # REPORTED_SLICES present in the eval split
    baselines: dict
    blessed: bool
    pushed_model: str | None
    outputs: dict  # (node id, output key) -> artifacts, for reports beyond the metrics

    def uri(self, node: str, key: str) -> str | None:
        artifacts = self.outputs.get((node, key))
        return artifacts[-1].uri if artifacts else None


def pipeline_run_ids(store: metadata_store.MetadataStore) -> set[int]:
    return {context.id for context in store.get_contexts_by_type(PIPELINE_RUN)}


def outputs_of_run(store: metadata_store.MetadataStore, run_context: int) -> dict[tuple[str, str], list]:
    """(node id, output key) -> the artifacts the run's executions of that node output (reused ones included)."""
    executions = store.get_executions_by_context(run_context)
    node_of = {}
    for execution in executions:
        nodes = [context.name for context in store.get_contexts_by_execution(execution.id)
                 if context.type_id == _node_type(store)]
        node_of[execution.id] = nodes[0].rpartition(".")[2] if nodes else ""
    events = [event for event in store.get_events_by_execution_ids([execution.id for execution in executions])
              if event.type == metadata_store_pb2.Event.OUTPUT]
    artifacts = {artifact.id: artifact for artifact in
                 store.get_artifacts_by_id(sorted({event.artifact_id for event in events}))}
    outputs: dict[tuple[str, str], list] = {}
    for event in sorted(events, key=lambda event: event.artifact_id):
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault((node_of[event.execution_id], key), []).append(artifacts[event.artifact_id])
    return outputs


def _node_type(store: metadata_store.MetadataStore) -> int:
    return store.get_context_type(NODE).id


def _model_metrics(evaluation_uri: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(warm metrics, {slice: metrics} for the REPORTED_SLICES the split has). Without cold items every example is
    warm."""
    slices = {key: value[""][""] for key, value in tfma.load_eval_result(evaluation_uri).slicing_metrics}

    def metrics(values):
        return {name: float(values[tfma_name(name)]["doubleValue"]) for name in REPORTED}

    warm = slices.get(((COLD, 0),))
    groups = {name: slices.get(((TARGET_GROUP, name),)) for name in REPORTED_SLICES}
    return (metrics(warm if warm is not None else slices[()]),
            {name: metrics(values) for name, values in groups.items() if values is not None})


def read_results(store: metadata_store.MetadataStore, run_context: int) -> RunResult:
    outputs = outputs_of_run(store, run_context)
    wanted = {("Evaluator", "evaluation"): "the model's evaluation", ("Evaluator", "blessing"): "a blessing",
              ("Baselines", "metrics"): "baseline metrics"}
    missing = [what for key, what in wanted.items() if key not in outputs]
    if missing:
        raise AvrecError(f"the pipeline run recorded no {', '.join(missing)}; see the component logs above")
    pushed = outputs.get(("ModelPusher", "pushed_model"), [None])[-1]
    destination = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        destination = pushed.custom_properties["pushed_destination"].string_value
    model, model_slices = _model_metrics(outputs[("Evaluator", "evaluation")][-1].uri)
    return RunResult(model=model, model_slices=model_slices,
                     baselines=read_baseline_metrics(outputs[("Baselines", "metrics")][-1].uri),
                     blessed=bool(outputs[("Evaluator", "blessing")][-1].custom_properties["blessed"].int_value),
                     pushed_model=destination, outputs=outputs)
