"""Scheduled retraining on data that arrives as spans: each retrain trains on the newest span not yet trained on
(with the rolling window of spans before it, warm-started from the latest blessed model) and appends what happened
to <output>/runs.json; `schedule` retrains on a timer. In production the compiled Kubeflow spec runs as a recurring
run instead (README); this is the one-machine schedule."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from avrec.config import RunConfig
from avrec.data.spans import span_numbers
from avrec.errors import AvrecError, DataError
from avrec.models.validation import MONITOR
from avrec.pipeline.job import execute

RUNS_FILE = "runs.json"


def read_runs(output: Path) -> list[dict]:
    path = output / RUNS_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def _append_run(output: Path, run: dict) -> None:
    """Rewrites runs.json with one more run, atomically (a reader never sees half a file)."""
    runs = read_runs(output) + [run]
    staging = output / f".{RUNS_FILE}.tmp"
    staging.write_text(json.dumps(runs, indent=2))
    staging.replace(output / RUNS_FILE)


def training_record(document: dict) -> dict:
    """What runs.json keeps of a run's training, so warm start and from scratch compare in epochs: the epochs trained
    (early stopping may end before the configured maximum), the one whose weights were kept (models.validation's
    StopAndKeep) and the validation Recall@10 after each."""
    training = document["training"]
    recalls = [epoch.get(MONITOR) for epoch in training["epochs"] if epoch["phase"] == "train"]
    return {"epochs": len(recalls), "kept_epoch": training.get("kept_epoch"), MONITOR: recalls}


def retrain(config: RunConfig, stream=sys.stdout) -> dict | None:
    """Runs the pipeline on the newest span not yet trained on and records the run; None when there is nothing new.
    A run that fails (bad rows, a schema anomaly) is recorded with its error and re-raised; serving is untouched."""
    spans = span_numbers(config.data.source_path)
    if not spans:
        raise DataError(f"no span folders (span-1/, span-2/, ...) in {config.data.source_path}")
    output = config.output_path
    runs = read_runs(output)
    attempted = {run["span"] for run in runs}
    newest = spans[-1]
    if newest in attempted:
        stream.write(f"Nothing new in {config.data.source}: span {newest} was already trained on.\n")
        return None
    warm_start = config.model.warm_start and any(run["blessed"] for run in runs)
    started = time.monotonic()
    run = {"span": newest, "window": [], "warm_start": warm_start, "epochs": None, "metrics": None,
           "blessed": False, "pushed": None, "seconds": None}
    try:
        document = execute(config, stream)
    except AvrecError as error:
        _append_run(output, {**run, "seconds": round(time.monotonic() - started, 1), "error": str(error)})
        raise
    run.update(window=document["window"], metrics=document["model"], blessed=document["blessed"],
               **training_record(document),
               pushed=document["pushed_model"] if document["blessed"] else None,
               seconds=round(time.monotonic() - started, 1))
    _append_run(output, run)
    return run


def schedule(config: RunConfig, every_seconds: float, max_runs: int | None = None, stream=sys.stdout,
             sleep=time.sleep) -> int:
    """Retrains every `every_seconds` (a failed retrain is reported and the schedule goes on); returns the number of
    retrains that trained a model."""
    trained = 0
    for attempt in range(max_runs) if max_runs is not None else iter(int, 1):
        try:
            trained += retrain(config, stream) is not None
        except AvrecError as error:
            stream.write(f"retrain failed: {error}\n")
        if max_runs is None or attempt + 1 < max_runs:
            sleep(every_seconds)
    return trained
