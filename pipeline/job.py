"""`avrec run` as a function: prepare the data, run the pipeline locally, write metrics.json and timings.json, and
print the ranking report and where the model was pushed."""
from __future__ import annotations

import json
import sys
import time

from ml_metadata.metadata_store import metadata_store

from avrec.config import RunConfig
from avrec.data.prepare import prepare
from avrec.models.metrics import REPORTED
from avrec.pipeline.local_runner import BEAM_ARGS, metadata_connection, run_locally
from avrec.pipeline.pipeline import create_pipeline
from avrec.pipeline.results import RunResult, read_results

METRICS_FILE = "metrics.json"
TIMINGS_FILE = "timings.json"


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

    metadata_path = output / "metadata.sqlite"
    pipeline = create_pipeline(config, prepared.root, output / "pipeline", metadata_connection(metadata_path),
                               BEAM_ARGS)
    run = run_locally(pipeline, metadata_path, stream)
    result = read_results(metadata_store.MetadataStore(metadata_connection(metadata_path)), run.run_context)
    document = metrics_document(result)
    (output / METRICS_FILE).write_text(json.dumps(document, indent=2))
    (output / TIMINGS_FILE).write_text(json.dumps(
        {"components": run.component_seconds, "cached": run.cached, "total_seconds": time.monotonic() - started},
        indent=2))

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
    stream.write(f"Metrics: {output / METRICS_FILE}\n")
    return document
