"""`avrec run` as a function: run the pipeline on this machine (the local or the Beam DAG runner), write
metrics.json, timings.json and bad_rows.json, and print what was read, the ranking report and where the model went."""
from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from ml_metadata.metadata_store import metadata_store

from avrec.components.ingest.example_gens import BAD_ROWS_FILE, read_bad_rows
from avrec.components.ingest.time_split import read_split_report
from avrec.config import RunConfig
from avrec.features import FEW_INTERACTIONS, MODALITIES
from avrec.models.baselines.ranks import REPORTED_SLICES, WARM
from avrec.models.metrics import PROTOCOLS, REPORTED
from avrec.pipeline.beam_runner import run_on_beam
from avrec.pipeline.local_runner import beam_args, run_locally
from avrec.pipeline.monitor import metadata_connection
from avrec.pipeline.pipeline import create_pipeline
from avrec.pipeline.report import render
from avrec.pipeline.results import RunResult, read_results

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
TIMINGS_FILE = "timings.json"
RUNNERS = {"local": run_locally, "beam": run_on_beam}


def metrics_document(result: RunResult) -> dict:
    """Warm metrics at the top level; a section for each slice of REPORTED_SLICES the split holds (`few`: warm
    items trained on few times; `cold`: cold-start items); each method with both protocols' metrics (the future
    protocol's prefixed `future_`); Recall@K curves under `curves`; the baselines' sample sizes under
    `baseline_sample`; with content, `ablation`: the model's warm and cold metrics with all its modalities and
    without each one."""
    baselines = dict(result.baselines)
    slices = {name: baselines.pop(name, None) for name in REPORTED_SLICES}
    notes = {key: baselines.pop(key, None) for key in ("sample", "skipped", "seconds", "curves")}
    model = result.model
    document = {"model": model.warm, **baselines}
    for name, values in slices.items():
        if name in model.slices and values is not None:
            document[name] = {"model": model.slices[name], **values}
    curves = {part: {"model": curve, **(notes["curves"] or {}).get(part, {})} for part, curve in model.curves.items()}
    extra = {"best_hyperparameters": result.best_hyperparameters} if result.best_hyperparameters else {}
    if model.ablation:
        extra["ablation"] = ablation_document(model, result.training().get("modalities", {}))
    return {**document, "curves": curves, "baseline_sample": notes["sample"], "baselines_skipped": notes["skipped"],
            **extra, "blessed": result.blessed, "pushed_model": result.pushed_model}


def ablation_document(model, selection: dict) -> dict:
    """The model as served ("model": its modalities, warm and cold next-item metrics) and each modality the
    catalog has toggled: "without_<modality>" for one in use, "with_<modality>" for one the Trainer switched off."""
    served = {"warm": model.warm, **({"cold": model.slices["cold"]} if "cold" in model.slices else {})}
    off = selection.get("off", [])
    tried = [name for name in MODALITIES if f"without_{name}" in selection]
    document = {"model": {"modalities": [name for name in tried if name not in off],
                          **{part: {name: values[name] for name in REPORTED} for part, values in served.items()}}}
    for name in tried:
        document[f"{'with' if name in off else 'without'}_{name}"] = model.ablation[name]
    return document


def format_table(methods: dict, prefix: str = "") -> str:
    names = [prefix + name for name in REPORTED]
    rows = [f"{'':20s}" + "".join(f"{name:>19s}" for name in names)]
    for method, values in methods.items():
        rows.append(f"{method:20s}" + "".join(f"{values[name]:19.4f}" for name in names))
    return "\n".join(rows)


def _report_data(result: RunResult, output: Path, stream) -> dict:
    """Prints what was read and split; copies the bad-row report beside metrics.json. Returns the split report."""
    events_uri = result.uri("EventExampleGen", "examples")
    report = read_bad_rows(events_uri)
    shutil.copy(Path(events_uri) / BAD_ROWS_FILE, output / BAD_ROWS_FILE)
    if report.total_bad:
        stream.write(report.summary() + "\n")
    split = read_split_report(result.uri("TimeSplit", "examples"))
    repeated = split["repeated_events"]
    sampled = (f" ({split['eval_scored']} of them scored, a sample of EvalConfig.eval_examples)"
               if split["eval_scored"] < split["eval"] else "")
    stream.write(f"\n{split['train']} training and {split['eval']} evaluation examples{sampled} from span(s) "
                 f"{', '.join(map(str, split['window']))}; {repeated['count']} repeated events left out"
                 + (f" (e.g. {repeated['examples'][0]})" if repeated["examples"] else "") + "\n")
    return split


def execute(config: RunConfig, stream=sys.stdout) -> dict:
    started = time.monotonic()
    output = config.output_path
    output.mkdir(parents=True, exist_ok=True)
    stream.write(f"Running the pipeline on {config.data.source} ({config.pipeline.runner} runner) ...\n")
    metadata_path = output / "metadata.sqlite"
    pipeline = create_pipeline(config, str(output / "pipeline"), metadata_connection(metadata_path),
                               beam_args(config.pipeline))
    run = RUNNERS[config.pipeline.runner](pipeline, metadata_path, stream)
    result = read_results(metadata_store.MetadataStore(metadata_connection(metadata_path)), run.run_context)
    split = _report_data(result, output, stream)
    training = result.training()
    document = {**metrics_document(result), "eval_target_groups": split["eval_target_groups"],
                "eval_examples": {"scored": split["eval_scored"], "in_split": split["eval"]},
                "window": split["window"], "training": training}
    (output / METRICS_FILE).write_text(json.dumps(document, indent=2))
    (output / REPORT_FILE).write_text(render(document, training["epochs"],
                                             f"avrec: {config.data.source}, model {config.model_name}"))
    (output / TIMINGS_FILE).write_text(json.dumps(
        {"components": run.component_seconds, "cached": run.cached, "baselines": result.baselines.get("seconds"),
         "total_seconds": time.monotonic() - started}, indent=2))

    warm = {method: values for method, values in document.items() if method == "model" or method in WARM}
    stream.write("\nFull-catalog ranking on the eval split (seen items excluded), next item:\n"
                 + format_table(warm) + "\n")
    stream.write("\nThe whole evaluation period from the history before it (future protocol):\n"
                 + format_table(warm, PROTOCOLS["future"]) + "\n")
    groups = split["eval_target_groups"]
    if "few" in document:
        stream.write(f"\nItems trained on at most {FEW_INTERACTIONS} times ({groups['few']} examples):\n"
                     + format_table(document["few"]) + "\n")
    if "cold" in document:
        stream.write(f"\nCold-start items (never seen in training), ranked among all items ({groups['cold']} "
                     "examples):\n" + format_table(document["cold"]) + "\n")
    for part, title in (("warm", "warm items"), ("cold", "cold items")):
        rows = {name: parts[part] for name, parts in document.get("ablation", {}).items() if part in parts}
        if len(rows) > 1:
            stream.write(f"\nEach pretrained modality toggled in turn, {title} (next item):\n"
                         + format_table(rows) + "\n")
    switched_off = training.get("modalities", {}).get("off")
    if switched_off:
        stream.write("(switched off by the validation slice, where their absence gained by more than chance: "
                     f"{', '.join(switched_off)})\n")
    if groups["cold_no_history"]:
        stream.write(f"({groups['cold_no_history']} cold examples without any history are counted, not scored: "
                     "nothing can rank them)\n")
    for name, reason in (document["baselines_skipped"] or {}).items():
        stream.write(f"({name} skipped: {reason})\n")
    sample = document["baseline_sample"]
    if sample["eval_examples"] < sample["eval_examples_in_split"]:
        stream.write(f"(baselines scored on a sample of {sample['eval_examples']} of the "
                     f"{sample['eval_examples_in_split']} scored evaluation examples)\n")
    if result.pushed_model:
        stream.write(f"\nPushed: {result.pushed_model}\n")
    else:
        stream.write(f"\nNot pushed: the model was not blessed (recall@50 must reach "
                     f"{config.eval.min_recall_at_50} and not fall below the last blessed model).\n")
    stream.write(f"Metrics: {output / METRICS_FILE}; report: {output / REPORT_FILE}\n")
    return document
