"""`<output>/report.html`: a run's results for a person to look at rather than read. The Recall@K curves (K = 1 to
100) of the model and every baseline, warm, few-interaction and cold items side by side; the training loss and the
validation Recall@10 by epoch; the metrics of both protocols and the per-modality ablation as tables. One self-contained file (inline SVG, no
scripts), so it opens anywhere, from a bucket or a CI artifact alike."""
from __future__ import annotations

import html
import math

from avrec.models.metrics import PROTOCOLS, REPORTED

WIDTH, HEIGHT, MARGIN = 420, 300, 48
COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
PART_TITLES = {"warm": "Warm items", "few": "Items trained on few times", "cold": "Cold items"}


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    step = (high - low) / count if high > low else 1.0
    magnitude = 10 ** math.floor(math.log10(step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= step)
    return [step * n for n in range(math.floor(low / step), math.ceil(high / step) + 1)]


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, y_label: str) -> str:
    """An SVG line chart of named (x, y) series, the first one drawn thickest (the model)."""
    points = [point for values in series.values() for point in values if math.isfinite(point[1])]
    if not points:
        return ""
    x_ticks = ticks(min(x for x, _ in points), max(x for x, _ in points))
    y_ticks = ticks(min(0.0, min(y for _, y in points)), max(y for _, y in points) or 1.0)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def at(x, y):
        return (MARGIN + (x - x0) / ((x1 - x0) or 1) * (WIDTH - 1.5 * MARGIN),
                HEIGHT - MARGIN - (y - y0) / ((y1 - y0) or 1) * (HEIGHT - 1.6 * MARGIN))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" '
             f'font-size="11"><text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">'
             f'{html.escape(title)}</text>']
    for tick in x_ticks:
        x, _ = at(tick, y0)
        parts.append(f'<line x1="{x:.1f}" y1="{HEIGHT - MARGIN}" x2="{x:.1f}" y2="{0.6 * MARGIN}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{HEIGHT - MARGIN + 14}" text-anchor="middle">{tick:g}</text>')
    for tick in y_ticks:
        _, y = at(x0, tick)
        parts.append(f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{WIDTH - MARGIN / 2}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{MARGIN - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:.3g}</text>')
    parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" text-anchor="middle">{html.escape(x_label)}</text>'
                 f'<text x="12" y="{HEIGHT / 2}" text-anchor="middle" transform="rotate(-90 12 {HEIGHT / 2})">'
                 f'{html.escape(y_label)}</text>')
    for number, (name, values) in enumerate(series.items()):
        colour = COLOURS[number % len(COLOURS)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(*point) for point in values if math.isfinite(point[1])))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                     f'stroke-width="{3 if number == 0 else 1.5}"/>'
                     f'<text x="{MARGIN + 8}" y="{0.6 * MARGIN + 14 * (number + 1)}" fill="{colour}">'
                     f'{html.escape(name)}</text>')
    return "".join(parts) + "</svg>"


def _table(methods: dict[str, dict], prefix: str) -> str:
    names = [prefix + name for name in REPORTED]
    head = "".join(f"<th>{html.escape(name)}</th>" for name in names)
    rows = "".join(f"<tr><td>{html.escape(method)}</td>"
                   + "".join(f"<td>{values[name]:.4f}</td>" if name in values else "<td></td>" for name in names)
                   + "</tr>" for method, values in methods.items())
    return f"<table><tr><th>method</th>{head}</tr>{rows}</table>"


def _methods(document: dict, part: str) -> dict[str, dict]:
    if part == "warm":
        return {name: values for name, values in document.items()
                if isinstance(values, dict) and "recall@10" in values}
    return document.get(part, {})


def render(document: dict, epochs: list[dict], title: str) -> str:
    """report.html of a run's metrics.json document and its training epochs (models.trainer's history)."""
    curves = document.get("curves", {})
    charts = [line_chart({name: [(float(k), value) for k, value in sorted(curve.items(), key=lambda i: int(i[0]))]
                          for name, curve in curves[part].items()},
                         f"{PART_TITLES[part]}: Recall@K", "K", "Recall@K")
              for part in PART_TITLES if part in curves]
    losses = {phase: [(float(n), entry["loss"]) for n, entry in enumerate(epochs, start=1) if entry["phase"] == phase]
              for phase in ("pretrain", "train")}
    validation = [(float(n), entry["val_recall@10"]) for n, entry in enumerate(epochs, start=1)
                  if entry.get("val_recall@10") is not None]
    charts.append(line_chart({f"{phase} loss": values for phase, values in losses.items() if values},
                             "Training loss by epoch", "epoch", "loss"))
    charts.append(line_chart({"validation Recall@10": validation}, "Validation Recall@10 by epoch", "epoch",
                             "Recall@10"))
    tables = "".join(f"<h2>{PART_TITLES[part]}</h2><div class=row>{_table(_methods(document, part), '')}"
                     f"{_table(_methods(document, part), PROTOCOLS['future'])}</div>"
                     for part in PART_TITLES if _methods(document, part))
    ablation = document.get("ablation", {})
    tables += "".join(f"<h2>Without each pretrained modality: {part} items</h2>"
                      + _table({name: parts[part] for name, parts in ablation.items() if part in parts}, "")
                      for part in ("warm", "cold") if any(part in parts for parts in ablation.values()))
    tuned = document.get("best_hyperparameters")
    tuned_html = (f"<h2>Best hyperparameters (Tuner)</h2><pre>{html.escape(str(tuned))}</pre>" if tuned else "")
    return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title><style>"
            "body{font-family:sans-serif;margin:24px}.row{display:flex;flex-wrap:wrap;gap:16px}"
            "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
            "text-align:right}td:first-child{text-align:left}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p>Full-catalog ranking, seen items excluded, ties counted against the "
            "target. Next item: each held-out interaction from everything before it; future: from the history "
            "before the evaluation period only.</p>"
            f"<div class=row>{''.join(charts)}</div>{tables}{tuned_html}</body></html>")
