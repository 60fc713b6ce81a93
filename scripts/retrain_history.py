#!/usr/bin/env python
"""Scheduled retraining as a person would watch it: a MovieLens-format dataset cut by time into spans that arrive one
at a time, each retrained on (`avrec retrain`, the rolling window of spans) twice, warm-started from the blessed
model and from scratch, in two outputs. Writes the retrain history as a Markdown table and a PNG plot: the test
metrics per span, the wall time, and the validation Recall@10 by epoch that shows how soon warm start gets where
from scratch ends.

    .venv/bin/python scripts/retrain_history.py                       # ml-latest-small, 3 spans -> docs/
    .venv/bin/python scripts/retrain_history.py --spans 4 --work /tmp/history -- --no-content --baselines popularity

Options after `--` go to every `avrec retrain`. A finished retrain is not repeated (runs.json), so an interrupted
history resumes where it stopped.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from avrec.pipeline.report import COLOURS, ticks
from avrec.pipeline.retraining import read_runs

MODES = {"warm start": (), "from scratch": ("--from-scratch",)}
PANEL_WIDTH, PANEL_HEIGHT, MARGIN = 460, 360, 56
REACHED = 0.95  # "got where from scratch ends": within 5% of its best validation Recall@10 (a few hundred examples)


def cut_spans(source: Path, spans: Path, count: int) -> list[Path]:
    """Span folders of `count` equal shares of the ratings by time. Every span carries the whole catalog
    (movies.csv: items exist before anyone watches them), the tags written up to its end, and the licence."""
    ratings = pd.read_csv(source / "ratings.csv").sort_values(["timestamp", "userId", "movieId"], kind="stable")
    tags = pd.read_csv(source / "tags.csv") if (source / "tags.csv").is_file() else None
    folders = []
    for number in range(1, count + 1):
        share = ratings.iloc[(number - 1) * len(ratings) // count:number * len(ratings) // count]
        folder = spans / f"span-{number}"
        folders.append(folder)
        if folder.is_dir():
            continue
        staging = spans / f".span-{number}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        share.to_csv(staging / "ratings.csv", index=False)
        shutil.copy(source / "movies.csv", staging / "movies.csv")
        if tags is not None:
            tags[tags["timestamp"] <= share["timestamp"].max()].to_csv(staging / "tags.csv", index=False)
        if (source / "README.txt").is_file():
            shutil.copy(source / "README.txt", staging / "README.txt")
        staging.rename(folder)
    return folders


def _output(work: Path, mode: str) -> Path:
    return work / mode.replace(" ", "_")


def retrain_all(folders: list[Path], work: Path, options: list[str]) -> dict[str, list[dict]]:
    """Both modes' runs.json after each span arrived in turn: span k is visible only once span k-1 was trained on."""
    arrived = work / "spans"
    arrived.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        if not (arrived / folder.name).exists():
            shutil.copytree(folder, arrived / folder.name)
        for mode, flags in MODES.items():
            output = _output(work, mode)
            if any(run["span"] == int(folder.name.split("-")[1]) for run in read_runs(output)):
                continue
            print(f"{folder.name}, {mode} ...", flush=True)
            output.mkdir(parents=True, exist_ok=True)
            with open(output / "retrain.log", "a") as log:
                completed = subprocess.run([sys.executable, "-m", "avrec.cli", "retrain", "--data", str(arrived),
                                            "--output", str(output), *flags, *options], stdout=log, stderr=log)
            if completed.returncode != 0:
                sys.exit(f"avrec retrain failed on {folder.name} ({mode}); see {output / 'retrain.log'}")
    return {mode: read_runs(_output(work, mode)) for mode in MODES}


def epochs_to_reach(run: dict, target: float) -> int | None:
    """The first epoch whose validation Recall@10 reaches `target`; None when it never does."""
    return next((epoch for epoch, recall in enumerate(run["val_recall@10"], 1)
                 if recall is not None and recall >= target), None)


def table(history: dict[str, list[dict]]) -> str:
    scratch = {run["span"]: run for run in history["from scratch"]}
    rows = [f"| span | window | series | warm-started | epochs (kept) | epochs to {REACHED:.0%} of from scratch's "
            "best validation Recall@10 | test Recall@10 / Recall@50 / NDCG@10 | blessed, pushed | seconds |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for mode, runs in history.items():
        for run in runs:
            metrics = run["metrics"] or {}
            best = max((r for r in scratch[run["span"]]["val_recall@10"] if r is not None), default=None)
            reach = epochs_to_reach(run, REACHED * best) if best is not None else None
            rows.append(f"| {run['span']} | {run['window']} | {mode} | {'yes' if run['warm_start'] else 'no'} | "
                        f"{run['epochs']} ({run.get('kept_epoch', run.get('best_epoch'))}) | "  # best_epoch: older runs.json
                        f"{reach if reach is not None else 'never'} | "
                        + " / ".join(f"{metrics.get(name, float('nan')):.4f}"
                                     for name in ("recall@10", "recall@50", "ndcg@10"))
                        + f" | {run['blessed']}, {Path(run['pushed']).name if run['pushed'] else '-'} | "
                          f"{run['seconds']:.0f} |")
    return "\n".join(rows) + "\n"


def shade(colour: str, lightness: float) -> str:
    """`colour` mixed with white: 0 keeps it, 1 is white."""
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * lightness):02x}" for c in (red, green, blue))


def draw_panel(image: Image.Image, left: int, series: dict[str, tuple[str, list[tuple[float, float]]]], title: str,
               x_label: str, y_label: str) -> None:
    """One line chart of named (colour, (x, y) points) series into the panel at `left`, styled as report.html's."""
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(size=13)
    points = [point for _, values in series.values() for point in values]
    x_ticks = [tick for tick in ticks(min(x for x, _ in points), max(x for x, _ in points)) if tick == int(tick)]
    y_ticks = ticks(0.0, max(y for _, y in points) or 1.0)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def at(x, y):
        return (left + MARGIN + (x - x0) / ((x1 - x0) or 1) * (PANEL_WIDTH - 1.5 * MARGIN),
                PANEL_HEIGHT - MARGIN - (y - y0) / ((y1 - y0) or 1) * (PANEL_HEIGHT - 1.8 * MARGIN))

    draw.text((left + PANEL_WIDTH / 2, 8), title, fill="black", font=ImageFont.load_default(size=15), anchor="mt")
    for tick in x_ticks:
        x, y = at(tick, y0)
        draw.line([(x, y), (x, 0.8 * MARGIN)], fill="#eeeeee")
        draw.text((x, y + 6), f"{tick:g}", fill="black", font=font, anchor="mt")
    for tick in y_ticks:
        x, y = at(x0, tick)
        draw.line([(x, y), (left + PANEL_WIDTH - MARGIN / 2, y)], fill="#eeeeee")
        draw.text((x - 4, y), f"{tick:g}", fill="black", font=font, anchor="rm")
    draw.text((left + PANEL_WIDTH / 2, PANEL_HEIGHT - 18), x_label, fill="black", font=font, anchor="mm")
    draw.text((left + 4, 0.8 * MARGIN - 18), y_label, fill="black", font=font, anchor="lm")
    for number, (name, (colour, values)) in enumerate(series.items()):
        corners = [at(*point) for point in values]
        if len(corners) > 1:
            draw.line(corners, fill=colour, width=3)
        for x, y in corners:
            draw.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=colour)
        draw.text((left + MARGIN + 8, 0.8 * MARGIN + 16 * number + 4), name, fill=colour, font=font)


def plot(history: dict[str, list[dict]], path: Path) -> None:
    """Test Recall@10 and wall time per span for both series; the validation curves of each warm-started span,
    warm start in one colour, from scratch in another, later spans lighter."""
    image = Image.new("RGB", (3 * PANEL_WIDTH, PANEL_HEIGHT), "white")
    by_span = {mode: [run for run in runs if run["metrics"]] for mode, runs in history.items()}
    colours = dict(zip(MODES, COLOURS))
    draw_panel(image, 0, {mode: (colours[mode], [(run["span"], run["metrics"]["recall@10"]) for run in runs])
                          for mode, runs in by_span.items()}, "Test Recall@10 after each span", "span", "Recall@10")
    draw_panel(image, PANEL_WIDTH, {mode: (colours[mode], [(run["span"], run["seconds"]) for run in runs])
                                    for mode, runs in by_span.items()}, "Wall time of each retrain", "span",
               "seconds")
    warm_spans = sorted(run["span"] for run in by_span["warm start"] if run["warm_start"])
    curves = {f"span {run['span']}, {mode}": (
        shade(colours[mode], 0.6 * warm_spans.index(run["span"]) / max(1, len(warm_spans) - 1)),
        [(epoch, recall) for epoch, recall in enumerate(run["val_recall@10"], 1) if recall is not None])
        for mode, runs in by_span.items() for run in runs if run["span"] in warm_spans}
    draw_panel(image, 2 * PANEL_WIDTH, {name: curve for name, curve in curves.items() if curve[1]},
               "Validation Recall@10 by epoch (warm-started spans)", "epoch", "Recall@10")
    image.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/ml-latest-small"), help="MovieLens-format directory")
    parser.add_argument("--spans", type=int, default=3, help="how many spans the ratings are cut into by time")
    parser.add_argument("--work", type=Path, default=Path("/tmp/avrec-retrain-history"), help="spans and outputs")
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where the table and the plot go")
    parser.add_argument("options", nargs="*", help="after --: options for every `avrec retrain`")
    args = parser.parse_args()
    if args.spans < 2:
        parser.error("--spans must be >= 2: warm start needs a span before it")
    folders = cut_spans(args.data, args.work / "cut", args.spans)
    history = retrain_all(folders, args.work, args.options)
    args.docs.mkdir(parents=True, exist_ok=True)
    command = " ".join(["scripts/retrain_history.py", "--data", str(args.data), "--spans", str(args.spans),
                        *(["--", *args.options] if args.options else [])])
    rendered = table(history)
    (args.docs / "retrain_history.md").write_text(
        f"# Retrain history\n\n`{command}`: each span retrained on in turn (`avrec retrain`, the rolling window of "
        "spans), warm-started and from scratch; test metrics on the newest span's evaluation period.\n\n"
        + rendered + "\n![retrain history](retrain_history.png)\n")
    plot(history, args.docs / "retrain_history.png")
    print(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
