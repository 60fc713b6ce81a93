"""Runs the pipeline on this machine: LocalDagRunner, ML Metadata in SQLite, Beam's DirectRunner.

What the user sees is one progress line per component with its wall time, the lines components log to
avrec.progress, and warnings from avrec's own code; TensorFlow's, TFX's and Beam's INFO and deprecation chatter is
held back (AVREC_DEBUG=1 shows it).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from pathlib import Path

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
import tensorflow as tf
from absl import logging as absl_logging
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

from avrec.errors import AvrecError
from avrec.pipeline.results import pipeline_run_ids
from avrec.progress import PROGRESS

# One worker, in memory: on two cores, process-level parallelism costs more than it gives for these data sizes.
BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


def metadata_connection(path: Path):
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))


@dataclasses.dataclass
class LocalRun:
    run_context: int  # the run's pipeline_run context in ML Metadata
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
        self._open = False  # a component's line waits for its "done"

    def _line(self, text: str) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False
        self.stream.write(f"      {text}\n")
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == PROGRESS:
            return self._line(record.getMessage())
        if record.name.startswith("avrec"):
            if record.levelno >= logging.WARNING:
                self._line(f"warning: {record.getMessage()}")
            return
        message, args = record.msg, record.args
        if message == "Component %s is running.":
            self.current = args[0]
            self.started[self.current] = time.monotonic()
            self.stream.write(f"[{len(self.started):2d}/{self.total}] {self.current} ...")
            self._open = True
        elif message == "A cached execution %d is used." and self.current:
            self.cached.append(self.current)
        elif message == "Component %s is finished.":
            name = args[0]
            self.seconds[name] = time.monotonic() - self.started[name]
            note = " (cached)" if name in self.cached else ""
            prefix = " " if self._open else f"[{len(self.started):2d}/{self.total}] {name} "
            self.stream.write(f"{prefix}done in {self.seconds[name]:.1f}s{note}\n")
            self._open = False
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


class _Quiet:
    """Holds back other libraries' log output while the pipeline runs; restores every level afterwards."""

    def __init__(self, progress: _Progress):
        self.progress = progress

    def __enter__(self):
        self.loggers = [absl_logging.get_absl_logger(), logging.getLogger("avrec")]
        for logger in self.loggers:
            logger.addHandler(self.progress)
        self.levels = [(logger, logger.level) for logger in (*self.loggers, tf.get_logger())]
        absl_logging.set_verbosity(absl_logging.INFO)
        logging.getLogger("avrec").setLevel(logging.INFO)
        debugging = os.environ.get("AVREC_DEBUG") == "1"
        tf.get_logger().setLevel(logging.INFO if debugging else logging.ERROR)
        self.handlers = [absl_logging.get_absl_handler(), *logging.getLogger().handlers]
        self.handler_levels = [handler.level for handler in self.handlers]
        for handler in self.handlers:
            handler.setLevel(logging.INFO if debugging else logging.ERROR)
        return self

    def __exit__(self, *_):
        for logger in self.loggers:
            logger.removeHandler(self.progress)
        for logger, level in self.levels:
            logger.setLevel(level)
        for handler, level in zip(self.handlers, self.handler_levels):
            handler.setLevel(level)


def run_locally(pipeline: tfx.dsl.Pipeline, metadata_path: Path, stream=sys.stdout) -> LocalRun:
    """Runs `pipeline` (created with metadata_connection(metadata_path)) and says which run it was."""
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    progress = _Progress(stream, total=len(pipeline.components))
    with _Quiet(progress):
        store = metadata_store.MetadataStore(metadata_connection(metadata_path))
        before = pipeline_run_ids(store)
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception as error:  # noqa: BLE001  (re-raised as the user error it wraps, or unchanged)
            stream.write(" failed\n")
            user_error = _user_error_in(error)
            if user_error is not None:
                raise user_error from None
            raise
        new = sorted(pipeline_run_ids(store) - before)
    if len(new) != 1:
        raise AvrecError(f"expected this run to add one pipeline run to {metadata_path}, found {len(new)}: "
                         "is another run using the same output directory?")
    return LocalRun(run_context=new[0], component_seconds=progress.seconds, cached=progress.cached)
