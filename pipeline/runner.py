"""Local runner: LocalDagRunner with SQLite ML Metadata under the output directory, per-component progress, and
the run's results read back from ML Metadata."""
from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow_model_analysis as tfma
from absl import logging as absl_logging
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

from avrec.components.baselines import read_baseline_metrics
from avrec.config import RunConfig
from avrec.errors import AvrecError
from avrec.features import COLD
from avrec.models.metrics import REPORTED, tfma_name
from avrec.pipeline.pipeline import create_pipeline


@dataclasses.dataclass
class RunResult:
    model: dict[str, float]
    cold_model: dict[str, float] | None
    baselines: dict
    blessed: bool
    pushed_model: str | None
    component_seconds: dict[str, float]
    cached: list[str]


class _Progress(logging.Handler):
    """Turns LocalDagRunner's log lines into one visible line per component, with its wall time."""

    def __init__(self, stream, total: int):
        super().__init__(level=logging.INFO)
        self.stream, self.total = stream, total
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.cached: list[str] = []
        self.current: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        message, args = record.msg, record.args
        if message == "Component %s is running.":
            self.current = args[0]
            self.started[self.current] = time.monotonic()
            self.stream.write(f"[{len(self.started):2d}/{self.total}] {self.current} ...")
            self.stream.flush()
        elif message == "A cached execution %d is used." and self.current:
            self.cached.append(self.current)
        elif message == "Component %s is finished.":
            name = args[0]
            self.seconds[name] = time.monotonic() - self.started[name]
            note = " (cached)" if name in self.cached else ""
            self.stream.write(f" done in {self.seconds[name]:.1f}s{note}\n")
            self.stream.flush()


def _user_error_in(error: BaseException) -> AvrecError | None:
    """Components raise our errors inside the orchestrator, which may wrap them."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, AvrecError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _latest_artifact(store, type_name: str):
    artifacts = store.get_artifacts_by_type(type_name)
    return max(artifacts, key=lambda a: a.id) if artifacts else None


def _model_metrics(evaluation_uri: str) -> tuple[dict[str, float], dict[str, float] | None]:
    """(warm metrics, cold-start metrics or None). Without cold items every example is warm."""
    slices = {key: value[""][""] for key, value in tfma.load_eval_result(evaluation_uri).slicing_metrics}

    def metrics(values):
        return {name: float(values[tfma_name(name)]["doubleValue"]) for name in REPORTED}

    warm, cold = slices.get(((COLD, 0),)), slices.get(((COLD, 1),))
    return metrics(warm if warm is not None else slices[()]), (metrics(cold) if cold is not None else None)


def read_results(metadata_path: Path) -> tuple[tuple, dict, bool, str | None]:
    store = metadata_store.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(
        str(metadata_path)))
    evaluation = _latest_artifact(store, "ModelEvaluation")
    blessing = _latest_artifact(store, "ModelBlessing")
    pushed = _latest_artifact(store, "PushedModel")
    baselines = _latest_artifact(store, "avrec.BaselineMetrics")
    blessed = bool(blessing.custom_properties["blessed"].int_value)
    destination = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        destination = pushed.custom_properties["pushed_destination"].string_value
    return _model_metrics(evaluation.uri), read_baseline_metrics(baselines.uri), blessed, destination


def run_pipeline(config: RunConfig, prepared_root: Path, stream=sys.stdout) -> RunResult:
    output = config.output_path
    metadata_path = output / "metadata.sqlite"
    pipeline = create_pipeline(config, prepared_root, output / "pipeline", metadata_path)
    progress = _Progress(stream, total=len(pipeline.components))
    absl_logging.get_absl_logger().addHandler(progress)
    absl_logging.set_verbosity(absl_logging.INFO)
    # Progress lines instead of the INFO flood, whichever handler Beam or TFX installed.
    quieted = [absl_logging.get_absl_handler(), *logging.getLogger().handlers]
    levels = [handler.level for handler in quieted]
    for handler in quieted:
        handler.setLevel(logging.ERROR)
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as error:  # noqa: BLE001  (re-raised as the user error it wraps, or unchanged)
        stream.write(" failed\n")
        user_error = _user_error_in(error)
        if user_error is not None:
            raise user_error from None
        raise
    finally:
        absl_logging.get_absl_logger().removeHandler(progress)
        for handler, level in zip(quieted, levels):
            handler.setLevel(level)
    (model, cold_model), baselines, blessed, pushed = read_results(metadata_path)
    return RunResult(model=model, cold_model=cold_model, baselines=baselines, blessed=blessed, pushed_model=pushed,
                     component_seconds=progress.seconds, cached=progress.cached)
