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
    data = {"source": args.data, "format": args.format, "holdout_last": args.holdout_last,
            "cold_item_fraction": args.cold_items}
    if args.max_bad_fraction is not None:
        data["max_bad_fraction"] = args.max_bad_fraction
    model = {"content": not args.no_content, "fusion": args.fusion, "finetune_text": args.finetune_text}
    if args.epochs is not None:
        model["epochs"] = args.epochs
    return RunConfig(output_dir=args.output, model_name=args.model_name, data=DataConfig(**data),
                     model=ModelConfig(**model))


def metrics_document(result: RunResult) -> dict:
    """Warm metrics at the top level; with cold-start evaluation, a `cold` section for the cold items."""
    baselines = dict(result.baselines)
    cold = baselines.pop("cold", None)
    document = {"model": result.model, **baselines}
    if result.cold_model is not None and cold is not None:
        document["cold"] = {"model": result.cold_model, **cold}
    return {**document, "blessed": result.blessed, "pushed_model": result.pushed_model}


def format_table(methods: dict) -> str:
    names = list(REPORTED)
    rows = [f"{'':14s}" + "".join(f"{name:>12s}" for name in names)]
    for method, values in methods.items():
        rows.append(f"{method:14s}" + "".join(f"{values[name]:12.4f}" for name in names))
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

    warm = {method: document[method] for method in ("model", "popularity", "itemknn")}
    stream.write("\nFull-catalog ranking on the eval split (seen items excluded):\n" + format_table(warm) + "\n")
    if "cold" in document:
        stream.write("\nCold-start items (never seen in training), ranked among all items:\n"
                     + format_table(document["cold"]) + "\n")
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

