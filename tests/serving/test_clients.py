"""Queries through every client (REST, gRPC, in process), checked against numpy over the same embeddings."""
from __future__ import annotations

import numpy as np
import pytest
import requests

from avrec.errors import AvrecError
from avrec.serving.client import ServingRequestError
from avrec.serving.connect import connect
from server_process import free_port
from tests.support.serving import CATALOG_1, K, MODEL, assert_items, expected_recommend, expected_top_k

def test_recommend_matches_numpy_and_reflects_history_at_once(client):
    assert_items(client.recommend("u1", k=K), expected_recommend(CATALOG_1, "u1"))
    with_history = client.recommend("u1", ["i3", "i4"], k=5)
    assert_items(with_history, expected_recommend(CATALOG_1, "u1", ["i3", "i4"], k=5))
    assert {"i3", "i4"}.isdisjoint(item for item, _ in with_history)
    assert with_history != client.recommend("u1", ["i7"], k=5)


def test_recommend_excludes_items_marked_seen(client):
    first = [item for item, _ in client.recommend("u2", ["i9"], k=3)]
    answer = client.recommend("u2", ["i9"], k=K, exclude=first)
    assert set(first).isdisjoint(item for item, _ in answer)
    assert_items(answer, expected_recommend(CATALOG_1, "u2", ["i9"], exclude=first))


def test_unknown_user_gets_cold_start_list_and_unknown_history_items_are_ignored(client):
    cold = client.recommend("never-seen-user", k=K)
    assert_items(cold, expected_top_k(CATALOG_1, CATALOG_1.cold_start_query, [], K))
    assert client.recommend("never-seen-user", ["not-an-item"], k=K) == cold


def test_similar_items_exclude_the_item_and_match_numpy(client):
    answer = client.similar("i5", k=K)
    assert "i5" not in [item for item, _ in answer]
    assert_items(answer, expected_top_k(CATALOG_1, CATALOG_1.item_embeddings[5], ["i5"], K))
    assert len(client.similar("not-an-item", k=3)) == 3
    assert client.titles(["i5", "not-an-item"]) == ["Title 5", ""]


def test_columnar_predict_of_single_output_signature(client):
    outputs = client.predict({"item_id": ["i0", "i1"]}, "item_embeddings")
    np.testing.assert_allclose(outputs["embedding"], CATALOG_1.item_embeddings[:2], rtol=1e-6)


def test_status_and_metadata(server_client):
    client = server_client
    assert client.status() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    metadata = client.metadata()
    assert metadata["model_spec"]["name"] == MODEL and metadata["model_spec"]["version"] == "1"
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "recommend", "similar_items", "item_embeddings"} <= set(signatures)
    default = signatures["serving_default"]
    assert {name: (spec["dtype"], [d["size"] for d in spec["tensor_shape"]["dim"]])
            for name, spec in default["inputs"].items()} == {"user_id": ("DT_STRING", ["-1"]),
                                                             "history": ("DT_STRING", ["-1", "-1"])}
    assert client.top_k_size("recommend") == K


def test_row_and_columnar_formats_give_the_same_batch(urls):
    url = f"{urls['rest']}/v1/models/{MODEL}:predict"
    users, histories = ["u1", "u3"], [["i1", "i2"], ["i8", ""]]
    row = requests.post(url, json={"instances": [{"user_id": u, "history": h} for u, h in zip(users, histories)]})
    columnar = requests.post(url, json={"signature_name": "serving_default",
                                        "inputs": {"user_id": users, "history": histories}})
    assert row.status_code == columnar.status_code == 200
    predictions, outputs = row.json()["predictions"], columnar.json()["outputs"]
    for n, (user, history) in enumerate(zip(users, histories)):
        ids, scores = expected_recommend(CATALOG_1, user, [item for item in history if item])
        assert predictions[n]["item_ids"] == outputs["item_ids"][n] == ids
        np.testing.assert_allclose(predictions[n]["scores"], scores, rtol=1e-4, atol=1e-4)
    similar = requests.post(url, json={"signature_name": "similar_items", "instances": ["i5", {"b64": "aTY="}]})
    assert [row["item_ids"] for row in similar.json()["predictions"]] == [
        expected_top_k(CATALOG_1, CATALOG_1.item_embeddings[n], [f"i{n}"], K)[0] for n in (5, 6)]


def test_k_out_of_range_is_refused_before_asking(client):
    for k in (0, K + 1):
        with pytest.raises(AvrecError, match=rf"k must be between 1 and {K} .* got {k}"):
            client.recommend("u1", k=k)
    with pytest.raises(AvrecError, match="k must be between 1 and 10"):
        client.similar("i1", k=50)


def test_unreachable_server_is_a_clear_error():
    for url in (f"http://127.0.0.1:{free_port()}", f"grpc://127.0.0.1:{free_port()}"):
        with connect(url, MODEL, timeout=5) as client, pytest.raises(ServingRequestError, match="cannot reach"):
            client.status()
    with pytest.raises(AvrecError, match="server URL must look like"):
        connect("localhost:8501", MODEL)
