"""End-to-end: the whole TFX pipeline on a slice of ml-latest-small, the pushed model, the CLI, and bad data."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from avrec import contract
from avrec.config import DataConfig, ModelConfig, RunConfig
from avrec.errors import ValidationError
from avrec.models.baselines.ranks import WARM
from avrec.pipeline.job import execute

pytestmark = pytest.mark.slow
SIGNATURES = {"serving_default", "recommend", "similar_items", "item_embeddings", "item_titles", "evaluate",
              "search_by_embedding"}


def pushed_model(config: RunConfig):
    document = json.loads((config.output_path / "metrics.json").read_text())
    return document, tf.saved_model.load(document["pushed_model"])


def test_metrics_are_written_beside_both_baselines(slice_run):
    config, _ = slice_run
    document, _ = pushed_model(config)
    for method in ("model", "popularity", "itemknn"):
        assert set(document[method]) == {"recall@10", "recall@50", "ndcg@10", "future_recall@10",
                                         "future_recall@50", "future_ndcg@10"}
        for protocol in ("", "future_"):
            assert 0 <= document[method][f"{protocol}recall@10"] <= document[method][f"{protocol}recall@50"] <= 1
    cold = document["cold"]  # the slice run holds 10% of the items out of training
    assert set(cold) == {"model", "content_only", "random", *WARM}
    assert all(0 <= cold[method]["recall@10"] <= cold[method]["recall@50"] <= 1 for method in cold)
    assert set(document["few"]) == {"model", *WARM}  # items trained on at most 5 times
    groups = document["eval_target_groups"]
    assert groups["cold"] and groups["few"] and groups["many"]
    assert document["eval_examples"]["scored"] == document["eval_examples"]["in_split"] == sum(groups.values())
    assert document["blessed"] is True
    assert Path(document["pushed_model"]).parent == config.model_base_path
    assert document["pushed_model"].split("/")[-1].isdigit()


def test_tuner_hyperparameters_pretraining_and_the_report(slice_run):
    config, _ = slice_run
    document, _ = pushed_model(config)
    best = document["best_hyperparameters"]
    assert {"embedding_dim", "temperature", "history_length", "learning_rate", "attention_dropout"} <= set(best)
    assert best["history_length"] <= ModelConfig().history_length
    epochs = document["training"]["epochs"]
    assert [e["phase"] for e in epochs][:1] == ["pretrain"] and epochs[-1]["phase"] == "train"
    assert all(np.isfinite(e["loss"]) for e in epochs)
    curves = document["curves"]["warm"]
    assert {"model", "popularity"} <= set(curves) and set(curves["model"]) >= {"1", "10", "100"}
    assert curves["model"]["10"] == pytest.approx(document["model"]["recall@10"], abs=1e-6)
    report = (config.output_path / "report.html").read_text()
    assert report.count("<svg") >= 3 and "Recall@K" in report and "loss" in report  # warm, cold, training loss


def test_pushed_model_returns_k_distinct_catalog_items_for_known_and_unknown_users(slice_run, movielens_slice):
    config, _ = slice_run
    document, model = pushed_model(config)
    assert SIGNATURES <= set(model.signatures)
    # The official TF Serving image has no TF Text ops: the served graph must not need them.
    assert b"TFText" not in (Path(document["pushed_model"]) / "saved_model.pb").read_bytes()
    catalog = set(pd.read_csv(movielens_slice / "movies.csv")["movieId"].astype(str))
    serve = model.signatures["serving_default"]
    result = serve(user_id=tf.constant(["1", "no-such-user"]),
                   history=tf.constant([["1", "50"], ["", ""]]))
    assert result["item_ids"].shape == (2, config.model.top_k) and result["scores"].dtype == tf.float32
    for row, scores in zip(result["item_ids"].numpy(), result["scores"].numpy()):
        ids = [item.decode() for item in row]
        assert len(set(ids)) == len(ids) and set(ids) <= catalog
        assert np.all(np.diff(scores) <= 1e-6)  # best first
    assert not {"1", "50"} & {item.decode() for item in result["item_ids"][0].numpy()}  # history excluded


def test_recommendations_follow_the_request_history_at_once(slice_run):
    config, _ = slice_run
    _, model = pushed_model(config)
    recommend = model.signatures["recommend"]
    children = recommend(user_id=tf.constant(["1"]), history=tf.constant([["1", "2355", "3114"]]),
                         exclude=tf.constant([["588"]]))["item_ids"][0].numpy().tolist()
    horror = recommend(user_id=tf.constant(["1"]), history=tf.constant([["1347", "1997", "2710"]]),
                       exclude=tf.constant([[""]]))["item_ids"][0].numpy().tolist()
    assert children != horror and b"588" not in children
    similar = model.signatures["similar_items"](item_id=tf.constant(["1"]))["item_ids"][0].numpy().tolist()
    assert b"1" not in similar
    titles = model.signatures["item_titles"](item_id=tf.constant(["1", "nope"]))["title"].numpy().tolist()
    assert titles == [b"Toy Story (1995)", b""]


def test_rerun_with_unchanged_inputs_reuses_cached_components_and_pushes_nothing_new(slice_run):
    from avrec import versions

    config, first = slice_run
    served = [number for number, _ in versions.scan(config.model_base_path).versions]
    again = execute(config)
    timings = json.loads((config.output_path / "timings.json").read_text())
    assert {"EventExampleGen", "CatalogExampleGen", "StatisticsGen", "TimeSplit", "WindowTransform", "CatalogTrainer",
            "Baselines", "ContentEmbedder"} <= set(timings["cached"])
    # The Evaluator runs again (it now has a baseline); the model it blesses is the one already served.
    assert [number for number, _ in versions.scan(config.model_base_path).versions] == served
    assert again["pushed_model"] == first["pushed_model"] and again["model"] == first["model"]


def test_recommend_cli_prints_titles(slice_run):
    config, _ = slice_run
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "recommend", "--output", config.output_dir,
                             "--user", "1", "--history", "1,50", "--k", "3"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and "(" in lines[1]  # heading + 3 items with "Title (year)"


def test_search_finds_items_by_their_content(slice_run):
    config, _ = slice_run
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "search", "toy story animation pixar", "--output",
                             config.output_dir, "--k", "5"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Toy Story" in result.stdout


def test_schema_anomaly_stops_the_pipeline_before_training(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    users = [f"u{n}" for n in range(6)]
    items = pd.DataFrame({"item_id": [f"i{n}" for n in range(8)], "title": [f"Item {n}" for n in range(8)]})
    items.to_csv(data / "items.csv", index=False)
    rows = [(user, f"i{(n + k) % 8}", -1.0 if k == 0 else 1.0, 1000 + k) for n, user in enumerate(users)
            for k in range(4)]
    pd.DataFrame(rows, columns=["user_id", "item_id", "weight", "timestamp"]).to_csv(
        data / "interactions.csv", index=False)
    config = RunConfig(output_dir=str(tmp_path / "out"), data=DataConfig(source=str(data), holdout_last=1),
                       model=ModelConfig(epochs=1))
    with pytest.raises(ValidationError, match="column 'rating'"):
        execute(config)
    assert not (config.output_path / "pipeline" / "CatalogTrainer").exists()


def test_a_rating_column_of_strings_stops_the_cli_with_the_column_named(tmp_path, movielens_slice):
    data = tmp_path / "data"
    data.mkdir()
    ratings = pd.read_csv(movielens_slice / "ratings.csv").head(500)
    ratings["rating"] = "good"
    ratings.to_csv(data / "ratings.csv", index=False)
    for name in ("movies.csv", "tags.csv"):
        (data / name).write_bytes((movielens_slice / name).read_bytes())
    result = subprocess.run([sys.executable, "-m", "avrec.cli", "run", "--data", str(data), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "'rating'" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # The events were read and refused: nothing downstream of the ExampleGens ran.
    assert not (tmp_path / "out" / "pipeline" / "TimeSplit").exists()


def test_served_pipeline_model_takes_a_catalog_refresh_without_retraining_or_failed_requests(
        slice_run, movielens_slice, tmp_path):
    import shutil

    from avrec.serving.connect import connect
    from server_process import MODEL, avrec_server, wait_until
    from tests.support.serving import RequestLoop

    config, _ = slice_run
    document, _ = pushed_model(config)
    base = tmp_path / "serving"
    shutil.copytree(Path(document["pushed_model"]), base / MODEL / Path(document["pushed_model"]).name)
    server = avrec_server(base, tmp_path / "server.log", MODEL, "--poll-seconds", "0.5").wait_ready()
    try:
        with connect(server.rest_url, MODEL) as rest, connect(server.grpc_url, MODEL) as grpc:
            over_rest, over_grpc = rest.recommend("1", ["1", "50"], 10), grpc.recommend("1", ["1", "50"], 10)
            assert [item for item, _ in over_rest] == [item for item, _ in over_grpc]
            assert [score for _, score in over_rest] == pytest.approx([score for _, score in over_grpc], abs=1e-5)
            # Two new items known to nobody, embedded from content alone: one copies Toy Story's content, the other
            # a film that shares nothing with it.
            catalog = tmp_path / "catalog"
            catalog.mkdir()
            movies = pd.read_csv(movielens_slice / "movies.csv")
            toy_story = movies[movies["movieId"] == 1].iloc[0]
            unlike = movies[~movies["genres"].str.contains("|".join(toy_story["genres"].split("|")), regex=True)
                            & ~movies["title"].str.contains("Toy")].iloc[0]
            movies.loc[len(movies)] = [990001, "Toy Story (1995)", toy_story["genres"]]
            movies.loc[len(movies)] = [990002, unlike["title"], unlike["genres"]]
            movies.to_csv(catalog / "movies.csv", index=False)
            for name in ("ratings.csv", "tags.csv"):
                shutil.copy(movielens_slice / name, catalog / name)

            with RequestLoop(lambda: rest.recommend("1", ["1"], 10)) as loop:
                refreshed = subprocess.run([sys.executable, "-m", "avrec.cli", "refresh-catalog", "--data",
                                            str(catalog), "--model", str(base / MODEL)], capture_output=True,
                                           text=True)
                assert refreshed.returncode == 0, refreshed.stderr
                wait_until(lambda: rest.titles(["990001"]) == ["Toy Story (1995)"], timeout=60)
            assert loop.failures == [] and len(loop.answers) > 0
            vectors = np.array(grpc.predict({contract.ITEM_ID: ["1", "990001", "990002"]},
                                            contract.ITEM_EMBEDDINGS)[contract.EMBEDDING])
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            # Both new items share the unknown-id part; only content can bring the twin closer to Toy Story.
            assert vectors[1] @ vectors[0] > vectors[2] @ vectors[0]
    finally:
        server.stop()
