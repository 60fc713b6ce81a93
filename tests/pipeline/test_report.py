"""report.html: curves and losses drawn from a run's metrics, every method named, non-finite points left out."""
import re

from avrec.pipeline.report import line_chart, render


def _points(svg: str) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, pair.split(","))) for pair in found.split()]
            for found in re.findall(r'<polyline points="([^"]*)"', svg)]


def test_line_chart_draws_each_series_in_order_and_higher_values_higher():
    svg = line_chart({"model": [(1, 0.1), (10, 0.3), (100, 0.6)], "popularity": [(1, 0.05), (100, float("nan"))]},
                     "Warm", "K", "Recall@K")
    model, popularity = _points(svg)
    assert [x for x, _ in model] == sorted(x for x, _ in model)
    assert model[0][1] > model[1][1] > model[2][1]  # SVG's y grows downwards
    assert len(popularity) == 1 and "popularity" in svg and "Recall@K" in svg
    assert line_chart({"empty": []}, "t", "x", "y") == ""


def test_report_has_a_chart_per_slice_the_loss_and_both_protocols_tables():
    values = {"recall@10": 0.1, "recall@50": 0.3, "ndcg@10": 0.05, "future_recall@10": 0.08,
              "future_recall@50": 0.2, "future_ndcg@10": 0.04}
    curve = {str(k): k / 100 for k in (1, 10, 100)}
    document = {"model": values, "sasrec": values, "cold": {"model": values, "content_only": values},
                "curves": {"warm": {"model": curve, "sasrec": curve}, "cold": {"model": curve, "content_only": curve}},
                "best_hyperparameters": {"embedding_dim": 128},
                "ablation": {"model": {"modalities": ["text"], "warm": values, "cold": values},
                             "without_image": {"warm": values}}}
    epochs = [{"phase": "pretrain", "loss": 9.0}, {"phase": "train", "loss": 8.0, "val_recall@10": 0.1},
              {"phase": "train", "loss": 7.5, "val_recall@10": 0.12}]
    report = render(document, epochs, "run <1>")
    assert report.count("<svg") == 4  # warm, cold, loss, validation Recall@10
    assert "Warm items: Recall@K" in report and "Cold items: Recall@K" in report and "few" not in report.lower()
    assert "future_ndcg@10" in report and "content_only" in report and "embedding_dim" in report
    assert "run &lt;1&gt;" in report  # escaped
    assert "modality: warm items" in report and "without_image" in report and "modality: cold items" in report
