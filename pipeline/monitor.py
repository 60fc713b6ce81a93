"""What a user sees while a pipeline runs on this machine, whichever runner runs it: one progress line per component
with its wall time, the lines components log to avrec.progress, and warnings from avrec's own code; TensorFlow's,
TFX's and Beam's log output goes to <output>/pipeline.log (AVREC_DEBUG=1 shows it instead). Also which pipeline run
it was.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import avrec  # noqa: F401  (legacy Keras before TensorFlow)
from absl import logging as absl_logging
from ml_metadata.metadata_store import metadata_store
from tfx import v1 as tfx

from avrec.errors import AvrecError
from avrec.pipeline.results import pipeline_run_ids
from avrec.progress import PROGRESS

LOG_FILE = "pipeline.log"
SCRATCH_DIR = "scratch"
# LocalDagRunner's and BeamDagRunner's log lines for a node starting and finishing.
_STARTED = ("Component %s is running.", "node %s is running.")
_FINISHED = ("Component %s is finished.", "node %s is finished.")


def metadata_connection(path: Path):
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))


@dataclasses.dataclass
class MonitoredRun:
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
        if message in _STARTED:
            self.current = args[0]
            self.started[self.current] = time.monotonic()
            self.stream.write(f"[{len(self.started):2d}/{self.total}] {self.current} ...")
            self._open = True
        elif message == "A cached execution %d is used." and self.current:
            self.cached.append(self.current)
        elif message in _FINISHED and args[0] in self.started:
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
    """While the pipeline runs, everything written to the standard error stream, by this process and by the Beam
    workers it starts, goes to `log_path` (INFO and up, for debugging); the user sees the progress lines only.
    AVREC_DEBUG=1 leaves the stream where it is."""

    def __init__(self, progress: _Progress, log_path: Path):
        self.progress, self.log_path = progress, log_path

    def __enter__(self):
        self.loggers = [absl_logging.get_absl_logger(), logging.getLogger("avrec")]
        self.verbosity, self.avrec_level = absl_logging.get_verbosity(), self.loggers[1].level
        for logger in self.loggers:
            logger.addHandler(self.progress)
        # Through absl's flag, which TensorFlow saves and restores around SavedModel exports.
        absl_logging.set_verbosity(absl_logging.INFO)
        self.loggers[1].setLevel(logging.INFO)
        self.saved_stderr = None
        if os.environ.get("AVREC_DEBUG") != "1":
            sys.stderr.flush()
            self.saved_stderr = os.dup(2)
            with open(self.log_path, "ab") as log:
                os.dup2(log.fileno(), 2)
        return self

    def __exit__(self, *_):
        if self.saved_stderr is not None:
            sys.stderr.flush()
            os.dup2(self.saved_stderr, 2)
            os.close(self.saved_stderr)
        for logger in self.loggers:
            logger.removeHandler(self.progress)
        absl_logging.set_verbosity(self.verbosity)
        self.loggers[1].setLevel(self.avrec_level)


@contextlib.contextmanager
def _scratch(directory: Path):
    """The run's temporary files go under `directory`, removed when it ends (a killed run's, when the next starts).
    TFX copies and packages itself into a new temporary directory for every Beam step and never removes it: about
    50 MB per step, gigabytes a week for a daily retrain. The Beam workers inherit it through TMPDIR. TF-Hub's
    download cache stays where it was (its default is under the system's temp directory): a hub handle is not
    downloaded again by every run."""
    _remove(directory)
    directory.mkdir(parents=True, exist_ok=True)
    saved = {name: os.environ.get(name) for name in ("TMPDIR", "TFHUB_CACHE_DIR")}, tempfile.tempdir
    os.environ.setdefault("TFHUB_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tfhub_modules"))
    os.environ["TMPDIR"] = tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        for name, value in saved[0].items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        tempfile.tempdir = saved[1]
        _remove(directory)


def _remove(directory: Path) -> None:
    """TFX's copy of itself keeps its read-only source folders: they are made writable to be removed. What still
    cannot be removed (a file a killed run's worker holds open) is left for the next run, not raised over the run's
    own outcome."""
    def writable_then_retry(function, path, _):
        with contextlib.suppress(OSError):
            if Path(path).parent != directory.parent:  # never the output directory itself
                os.chmod(os.path.dirname(path), 0o700)
            function(path)

    if directory.exists():
        shutil.rmtree(directory, onerror=writable_then_retry)


def run_monitored(runner, pipeline: tfx.dsl.Pipeline, metadata_path: Path, stream=sys.stdout) -> MonitoredRun:
    """Runs `pipeline` (created with metadata_connection(metadata_path)) with `runner` and says which run it was."""
    metadata_path.parent.mkdir(parents=True, exist_ok=True)
    progress = _Progress(stream, total=len(pipeline.components))
    with _Quiet(progress, metadata_path.parent / LOG_FILE), _scratch(metadata_path.parent / SCRATCH_DIR):
        store = metadata_store.MetadataStore(metadata_connection(metadata_path))
        before = pipeline_run_ids(store)
        try:
            runner.run(pipeline)
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
    return MonitoredRun(run_context=new[0], component_seconds=progress.seconds, cached=progress.cached)
