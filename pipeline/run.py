"""`avrec run`: prepare the data, run the pipeline, report the metrics and where the model was pushed."""
from __future__ import annotations

import json
import sys
import time

from avrec.config import DataConfig, ModelConfig, RunConfig
from avrec.data.prepare import prepare
from avrec.models.metrics import REPORTED
from avrec.pipeline.runner import RunResult, run_pipeline


def config_from_args(args) -> RunConfig:
    data = {"source": args.data, "format": args.format, "holdout_last": args.holdout_last}
    if args.max_bad_fraction is not None:
        data["max_bad_fraction"] = args.max_bad_fraction
    model = ModelConfig() if args.epochs is None else ModelConfig(epochs=args.epochs)
    return RunConfig(output_dir=args.output, model_name=args.model_name, data=DataConfig(**data), model=model)


def metrics_document(result: RunResult) -> dict:
    return {"model": result.model, **result.baselines, "blessed": result.blessed,
            "pushed_model": result.pushed_model}


def format_table(document: dict) -> str:
    names = list(REPORTED)
    rows = [f"{'':12s}" + "".join(f"{name:>12s}" for name in names)]
    for method in ("model", "popularity", "itemknn"):
        rows.append(f"{method:12s}" + "".join(f"{document[method][name]:12.4f}" for name in names))
    return "\n".join(rows)


def execute(config: RunConfig, stream=sys.stdout) -> dict:
    started = time.monotonic()
    output = config.output_path
    output.mkdir(parents=True, exist_ok=True)
    stream.write(f"Preparing {config.data.source} ...\n")
    prepared = prepare(config.data, output / "prepared")
    stream.write(f"  {prepared.n_users} users, {prepared.n_items} items, {prepared.n_train} training and "
                 f"{prepared.n_eval} evaluation interactions (latest {config.data.holdout_last:g} per user held out)\n")
    if prepared.dataset.report.total_bad:
        stream.write(prepared.dataset.report.summary() + "\n")

    result = run_pipeline(config, prepared.root, stream)
    document = metrics_document(result)
    (output / "metrics.json").write_text(json.dumps(document, indent=2))
    (output / "timings.json").write_text(json.dumps(
        {"components": result.component_seconds, "cached": result.cached,
         "total_seconds": time.monotonic() - started}, indent=2))

    stream.write("\nFull-catalog ranking on the eval split (seen items excluded):\n" + format_table(document) + "\n")
    if result.pushed_model:
        stream.write(f"\nPushed: {result.pushed_model}\n")
    else:
        stream.write(f"\nNot pushed: the model was not blessed (recall@50 must reach "
                     f"{config.eval.min_recall_at_50} and not fall below the last blessed model).\n")
    stream.write(f"Metrics: {output / 'metrics.json'}\n")
    return document


def run_command(args) -> int:
    config = config_from_args(args)
    execute(config)
    return 0

