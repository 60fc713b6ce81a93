"""What one pipeline run produced, read back from ML Metadata: the model's metrics (warm, few-interaction and
cold slices), the
baselines', the blessing and where the model was pushed.

Only the executions of that run count (its `pipeline_run` context): another run's newer artifacts in the same store
never leak into this run's report. Cached executions belong to the run that reused them.
"""
from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf
import tensorflow_model_analysis as tfma
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from avrec.components.score_baselines import read_baseline_metrics
from avrec.contract import ablation_rank
from avrec.errors import AvrecError
from avrec.features import COLD, MODALITIES, TARGET_GROUP
from avrec.models.baselines.ranks import REPORTED_SLICES
from avrec.models.trainer import HISTORY_FILE
from avrec.models.training import HYPERBAND_BOOKKEEPING
from avrec.models.metrics import CURVE_KS, PROTOCOL_OUTPUTS, PROTOCOLS, REPORTED, curve_name, tfma_name

PIPELINE_RUN = "pipeline_run"
NODE = "node"


@dataclasses.dataclass
class ModelMetrics:
    warm: dict[str, float]  # both protocols, each metric carrying its protocol's prefix (models.metrics.PROTOCOLS)
    slices: dict[str, dict[str, float]]  # the REPORTED_SLICES the split has
    curves: dict[str, dict[str, float]]  # warm and each slice: next-item Recall@K by K
    ablation: dict[str, dict[str, dict[str, float]]]  # modality toggled -> warm / cold -> next-item metrics


@dataclasses.dataclass
class RunResult:
    model: ModelMetrics
    best_hyperparameters: dict | None  # the Tuner's, when the pipeline tuned
    baselines: dict
    blessed: bool
    pushed_model: str | None
    outputs: dict  # (node id, output key) -> artifacts, for reports beyond the metrics

    def uri(self, node: str, key: str) -> str | None:
        artifacts = self.outputs.get((node, key))
        return artifacts[-1].uri if artifacts else None

    def training(self) -> dict:
        """models.trainer's history: each epoch's phase, loss, validation Recall@10 and seconds under `epochs`; the
        modality selection's validation scores under `modalities` (with content)."""
        run = self.uri("CatalogTrainer", "model_run")
        path = os.path.join(run, HISTORY_FILE) if run else None
        if path is None or not tf.io.gfile.exists(path):
            return {"epochs": []}
        with tf.io.gfile.GFile(path) as handle:
            return {key: value for key, value in json.load(handle).items() if key != "config"}


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


def _model_metrics(evaluation_uri: str) -> ModelMetrics:
    """Without cold items every example is warm."""
    slices = {key: value for key, value in tfma.load_eval_result(evaluation_uri).slicing_metrics}

    def metrics(values, output: str, prefix: str = "") -> dict[str, float]:
        return {prefix + name: float(values[output][""][tfma_name(name)]["doubleValue"]) for name in REPORTED}

    def both(values):
        return {name: value for protocol, prefix in PROTOCOLS.items()
                for name, value in metrics(values, PROTOCOL_OUTPUTS[protocol], prefix).items()}

    def curve(values):
        return {str(k): float(values[PROTOCOL_OUTPUTS["next"]][""][tfma_name(curve_name(k))]["doubleValue"])
                for k in CURVE_KS}

    warm = slices.get(((COLD, 0),))
    warm = warm if warm is not None else slices[()]
    groups = {name: slices[((TARGET_GROUP, name),)] for name in REPORTED_SLICES if ((TARGET_GROUP, name),) in slices}
    parts = {"warm": warm, **({"cold": groups["cold"]} if "cold" in groups else {})}
    ablation = {modality: {part: metrics(values, ablation_rank(modality)) for part, values in parts.items()}
                for modality in MODALITIES if ablation_rank(modality) in warm}
    return ModelMetrics(both(warm), {name: both(values) for name, values in groups.items()},
                        {"warm": curve(warm), **{name: curve(values) for name, values in groups.items()}}, ablation)


def _best_hyperparameters(uri: str) -> dict:
    """The values the Tuner chose (its artifact holds one keras_tuner HyperParameters config)."""
    with tf.io.gfile.GFile(tf.io.gfile.glob(os.path.join(uri, "*"))[0]) as handle:
        return {name: value for name, value in json.load(handle)["values"].items()
                if not name.startswith(HYPERBAND_BOOKKEEPING)}


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
    tuned = outputs.get(("CatalogTuner", "best_hyperparameters"))
    return RunResult(model=_model_metrics(outputs[("Evaluator", "evaluation")][-1].uri),
                     best_hyperparameters=_best_hyperparameters(tuned[-1].uri) if tuned else None,
                     baselines=read_baseline_metrics(outputs[("Baselines", "metrics")][-1].uri),
                     blessed=bool(outputs[("Evaluator", "blessing")][-1].custom_properties["blessed"].int_value),
                     pushed_model=destination, outputs=outputs)
