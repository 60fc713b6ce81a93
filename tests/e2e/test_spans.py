"""Scheduled retraining on spans: ml-latest-small users cut by time into span folders that arrive one at a time,
retrained with warm start, a bad span and a worse model refused, and a server answering throughout."""
import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from avrec import versions
from avrec.config import DataConfig, EvalConfig, ModelConfig, RunConfig
from avrec.errors import ValidationError
from avrec.models import preprocessing as P
from avrec.pipeline.retraining import read_runs, retrain
from avrec.serving.connect import connect
from server_process import MODEL, avrec_server
from tests.support.movielens import write_movielens_slice
from tests.support.serving import RequestLoop

pytestmark = pytest.mark.slow
SPAN_SHARES = {1: (0.0, 0.6), 3: (0.6, 0.8), 4: (0.8, 1.0)}  # span 2 is the bad one


def _write_span(spans, slice_dir, number: int, ratings: pd.DataFrame) -> None:
    folder = spans / f"span-{number}"
    folder.mkdir(parents=True)
    ratings.to_csv(folder / "ratings.csv", index=False)
    for name in ("movies.csv", "tags.csv"):
        shutil.copy(slice_dir / name, folder / name)


def _item_rows(model_dir: str) -> dict[bytes, np.ndarray]:
    """A pushed model's item id vectors, by item id."""
    table = tf.saved_model.load(model_dir).candidate_tower.item_embedding.embeddings.numpy()
    vocabulary = (pathlib.Path(model_dir) / "assets" / P.ITEM_VOCAB).read_bytes().splitlines()
    return dict(zip(vocabulary, table))


def _mean_cosine(left: list, right: list) -> float:
    left, right = np.stack(left), np.stack(right)
    return float(np.mean(np.sum(left * right, axis=1)
                         / (np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1))))


@pytest.fixture(scope="module")
def periods(tmp_path_factory):
    slice_dir = write_movielens_slice(tmp_path_factory.mktemp("slice"), n_users=200)
    ratings = pd.read_csv(slice_dir / "ratings.csv").sort_values("timestamp")
    cuts = {span: ratings.iloc[int(a * len(ratings)):int(b * len(ratings))] for span, (a, b) in SPAN_SHARES.items()}
    return slice_dir, cuts


def _config(spans, output, **model) -> RunConfig:
    return RunConfig(output_dir=str(output), data=DataConfig(source=str(spans), span_window=3),
                     model=ModelConfig(content=False, **model), eval=EvalConfig(baselines=("popularity",)))


def test_retraining_span_after_span(periods, tmp_path):
    slice_dir, cuts = periods
    spans, output = tmp_path / "spans", tmp_path / "out"
    _write_span(spans, slice_dir, 1, cuts[1])
    first = retrain(_config(spans, output, epochs=8))  # the served model is a trained one
    assert first["span"] == 1 and first["window"] == [1] and not first["warm_start"] and first["blessed"]
    assert first["pushed"] and {"recall@10", "recall@50", "ndcg@10"} <= set(first["metrics"])

    server = avrec_server(output / "serving", tmp_path / "server.log", MODEL, "--poll-seconds", "0.3").wait_ready()
    client = connect(server.rest_url, MODEL)
    loop = RequestLoop(lambda: client.recommend("1", ["1"], 10)).__enter__()
    try:
        # A span with negative ratings is a schema anomaly: stopped before it is split or trained on.
        bad = cuts[3].head(50).assign(rating=-1.0)
        _write_span(spans, slice_dir, 2, bad)
        with pytest.raises(ValidationError, match="column 'rating'"):
            retrain(_config(spans, output, epochs=1))
        assert [str(path) for _, path in versions.scan(output / "serving" / MODEL).versions] == [first["pushed"]]
        assert "error" in read_runs(output)[-1] and read_runs(output)[-1]["span"] == 2

        # The next good span warm-starts from the blessed model; the bad span never entered the window.
        _write_span(spans, slice_dir, 3, cuts[3])
        warm = retrain(_config(spans, output, epochs=2))
        assert warm["warm_start"] and warm["window"] == [1, 3] and warm["blessed"]
        assert warm["epochs"] == 2 and len(warm["val_recall@10"]) == 2 and warm["kept_epoch"] in (1, 2)
        assert int(warm["pushed"].rsplit("/", 1)[1]) > int(first["pushed"].rsplit("/", 1)[1])
        # Warm start carried the served model's weights: two epochs later, an item both models know still has
        # nearly the vector it was served with, far closer than to another item's. (Epoch losses cannot show it on
        # a 200-user slice: the newer span's users drift, and a warm start's first epoch is sometimes the worse one.)
        served_rows, warm_rows = _item_rows(first["pushed"]), _item_rows(warm["pushed"])
        shared = sorted(served_rows.keys() & warm_rows.keys())
        served_vectors = [served_rows[item] for item in shared]
        same = _mean_cosine(served_vectors, [warm_rows[item] for item in shared])
        other = _mean_cosine(served_vectors, [warm_rows[item] for item in shared[1:] + shared[:1]])
        assert len(shared) > 100 and same > 0.6 and same - other > 0.3, (len(shared), same, other)

        # A deliberately worse model (from scratch, hardly trained) is evaluated but not pushed.
        _write_span(spans, slice_dir, 4, cuts[4])
        served = versions.scan(output / "serving" / MODEL).versions
        worse = retrain(_config(spans, output, epochs=1, warm_start=False, learning_rate=1e-7))
        assert worse["window"] == [1, 3, 4] and not worse["blessed"] and worse["pushed"] is None
        assert versions.scan(output / "serving" / MODEL).versions == served
    finally:
        loop.__exit__()
        client.close()
        server.stop()
    assert loop.failures == [] and len(loop.answers) > 0

    runs = read_runs(output)
    assert [run["span"] for run in runs] == [1, 2, 3, 4]
    pushed = [run["pushed"] for run in runs if run["pushed"]]
    assert pushed == sorted(pushed, key=lambda path: int(path.rsplit("/", 1)[1]))
    for run in runs:
        assert {"span", "window", "warm_start", "metrics", "blessed", "pushed", "seconds"} <= set(run)

    # Nothing new: the schedule retrains nothing and says so.
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "schedule", "--data", str(spans), "--output",
                             str(output), "--no-content", "--every", "0.1", "--max-runs", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "span 4 was already trained on" in result.stdout
    assert json.loads((output / "runs.json").read_text()) == runs
