#!/usr/bin/env python
"""Recommendation quality on two data shapes: the default model, each model switch, and every baseline.

(a) ml-latest-small with the default split (each user's latest 10 interactions evaluated); (b) a short-history set
made from it (scripts/short_history.py: windows of 5 to 10 interactions, each its own user), leave-one-out
(`--holdout-last 1`). Each variant is a whole `avrec run` in a subprocess; the first run of a shape also scores
every baseline (they do not depend on the model), the others only popularity. One table per shape: Recall@10/50,
NDCG@10 on warm examples under both protocols (next item; future: from the history before the evaluation period)
and wall time (the model's: the whole run; a baseline's: fitting and scoring).

    python scripts/bench_quality.py                                  # both shapes, every variant (about an hour)
    python scripts/bench_quality.py --shapes short --variants default,attention
    python scripts/bench_quality.py --shapes short --variants default,model.embedding_dim=128+model.patience=5

A variant that is not a name below is a list of `avrec run --set` settings joined by '+' (values without commas).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from short_history import make  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "ml-latest-small"
VARIANTS = {
    "default": [],
    "mean": ["--user-tower", "mean"],
    "per_example": ["--per-example"],
    "pretrain": ["--pretrain"],
    "tune": ["--tune"],
    "in_batch": ["--loss", "in_batch"],
    "no_content": ["--no-content"],
}
SHAPES = {"default": [], "short": ["--holdout-last", "1"]}
METRICS = ("recall@10", "recall@50", "ndcg@10", "future_recall@10", "future_recall@50", "future_ndcg@10")


def run(data: Path, output: Path, flags: list[str], baselines: str) -> tuple[dict, dict, float]:
    started = time.monotonic()
    command = [str(Path(sys.executable).parent / "avrec"), "run", "--data", str(data), "--output", str(output),
               "--baselines", baselines, *flags]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return (json.loads((output / "metrics.json").read_text()), json.loads((output / "timings.json").read_text()),
            time.monotonic() - started)


def table(rows: list[tuple[str, dict, float | None]]) -> str:
    lines = [f"| method | {' | '.join(METRICS)} | seconds |", "|---" * (len(METRICS) + 2) + "|"]
    for name, values, seconds in rows:
        cells = " | ".join(f"{values[metric]:.4f}" for metric in METRICS)
        lines.append(f"| {name} | {cells} | {'' if seconds is None else f'{seconds:.0f}'} |")
    return "\n".join(lines)


def flags(variant: str) -> list[str]:
    if variant in VARIANTS:
        return VARIANTS[variant]
    if "=" not in variant:
        raise SystemExit(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}, or SECTION.FIELD=VALUE[+...]")
    return [f"--set={setting}" for setting in variant.split("+")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--variants", default="default,mean,pretrain,tune,no_content")
    parser.add_argument("--baselines", default="popularity,recent_popularity,itemknn,ease,sasrec")
    parser.add_argument("--work", type=Path, default=None, help="keep data and outputs here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="avrec-quality-"))
    results = {}
    for shape in args.shapes.split(","):
        data = SOURCE
        if shape == "short":
            data = work / "short-history"
            make(SOURCE, data)
        rows = []
        for number, variant in enumerate(args.variants.split(",")):
            document, timings, seconds = run(data, work / f"{shape}-{variant.replace('/', '_')}",
                                             SHAPES[shape] + flags(variant),
                                             args.baselines if number == 0 else "popularity")
            rows.append((f"model ({variant})", document["model"], seconds))
            if number == 0:
                costs = timings.get("baselines") or {}
                rows += [(name, document[name], costs.get(name)) for name in args.baselines.split(",")
                         if name in document]
                skipped = document.get("baselines_skipped") or {}
                rows += [(f"{name}: skipped ({reason})", dict.fromkeys(METRICS, float("nan")), None)
                         for name, reason in skipped.items()]
            print(f"{shape}/{variant}: {document['model']} in {seconds:.0f} s", flush=True)
        results[shape] = rows
        print(f"\n## {shape} ({data})\n{table(rows)}\n", flush=True)
    (work / "quality.json").write_text(json.dumps({shape: [(n, v, s) for n, v, s in rows]
                                                   for shape, rows in results.items()}, indent=2))
    print(f"results: {work / 'quality.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
