"""The TF Serving-compatible server, its clients and CLI commands, against synthetic contract SavedModels.

Answers are checked against numpy computations over the same embeddings; the official tensorflow_model_server runs
the same query tests where it is installed.
"""
from __future__ import annotations

import functools
import json
import shutil
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import yaml

import avrec  # noqa: F401  (before TensorFlow)
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_log_pb2, prediction_service_pb2_grpc)
from tensorflow_serving.config import model_server_config_pb2

from avrec import cli
from avrec.errors import AvrecError
from avrec.serving.client import ServingRequestError, connect
from avrec.serving.server import ModelServer
from avrec.serving.synthetic import SyntheticCatalog
from serving_helpers import (K, MODEL, ServerProcess, assert_items, expected_recommend, expected_top_k,
                                   free_port, official_server, publish, wait_until)

DEPLOY = Path(avrec.__file__).resolve().parent.parent / "serving" / "deploy"
CATALOG_1 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=1, titles=True)
CATALOG_2 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=2)
CATALOG_3 = SyntheticCatalog.random(300, num_users=20, dim=8, seed=3)


@pytest.fixture(scope="module")
def model_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("serving")
    (base / MODEL).mkdir()
    publish(CATALOG_1, base / MODEL, 1)
    return base


@pytest.fixture(scope="module")
def avrec_server(model_base):
    server = ModelServer(model_base, MODEL, host="127.0.0.1", rest_port=0, grpc_port=0, poll_seconds=0.2).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["avrec", "tensorflow_model_server"])
def urls(request, model_base, tmp_path_factory) -> dict[str, str]:
    """REST and gRPC URLs of a server on the module's model: this project's, then the official one if installed."""
    if request.param == "avrec":
        server = request.getfixturevalue("avrec_server")
        yield {"rest": f"http://127.0.0.1:{server.rest_port}", "grpc": f"grpc://127.0.0.1:{server.grpc_port}"}
        return
    if shutil.which("tensorflow_model_server") is None:
        pytest.skip("tensorflow_model_server is not on PATH (install TF Serving to run these tests against it)")
    official = official_server(model_base, tmp_path_factory.mktemp("official") / "server.log").wait_ready()
    yield {"rest": official.rest_url, "grpc": official.grpc_url}
    official.stop()


@pytest.fixture(params=["rest", "grpc"])
def client(request, urls):
    with connect(urls[request.param], MODEL) as client:
        yield client


# --- queries -------------------------------------------------------------------------------------------------------

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


def test_status_and_metadata(client):
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


# --- bad input -----------------------------------------------------------------------------------------------------

PREDICT = f"/v1/models/{MODEL}:predict"
GOOD = {"user_id": ["u1"], "history": [["i1"]]}
BAD_REST_REQUESTS = [
    # (name, method, path, body (str: sent as is), status, text the error must contain)
    ("malformed JSON", "POST", PREDICT, '{"instances": [', 400, "JSON Parse error"),
    ("empty body", "POST", PREDICT, "", 400, "The document is empty"),
    ("not UTF-8", "POST", PREDICT, b'{"inputs": "\xff"}', 400, "not UTF-8"),
    ("body not an object", "POST", PREDICT, "[1, 2]", 400, "Is not object"),
    ("no inputs or instances", "POST", PREDICT, {"signature_name": "serving_default"}, 400,
     "Missing 'inputs' or 'instances' key"),
    ("both inputs and instances", "POST", PREDICT, {"inputs": GOOD, "instances": [GOOD]}, 400,
     "only one of 'inputs' or 'instances'"),
    ("unknown request key", "POST", PREDICT, {"inputs": GOOD, "k": 5}, 400, "unknown key(s) ['k']"),
    ("signature_name not a string", "POST", PREDICT, {"signature_name": 3, "inputs": GOOD}, 400,
     "'signature_name' must be a string"),
    ("unknown signature", "POST", PREDICT, {"signature_name": "nope", "inputs": GOOD}, 400,
     'Serving signature name: "nope" not found'),
    ("instances not a list", "POST", PREDICT, {"instances": GOOD}, 400, "Expecting 'instances' to be a list"),
    ("empty instances", "POST", PREDICT, {"instances": []}, 400, "No values in 'instances'"),
    ("number for a string", "POST", PREDICT, {"inputs": {"user_id": [42], "history": [["i1"]]}}, 400,
     "inputs['user_id'][0]: JSON value 42 is not of expected type string"),
    ("null for a string", "POST", PREDICT, {"instances": [{"user_id": None, "history": ["i1"]}]}, 400,
     "instances[0]['user_id']: JSON value null is not of expected type string"),
    ("missing input", "POST", PREDICT, {"inputs": {"user_id": ["u1"]}}, 400, "requires input(s) ['history']"),
    ("unknown input", "POST", PREDICT, {"inputs": {**GOOD, "age": [3]}}, 400,
     "signature 'serving_default' has no input named 'age'"),
    ("instances with different keys", "POST", PREDICT,
     {"instances": [{"user_id": "u1", "history": ["i1"]}, {"user_id": "u2"}]}, 400,
     "instances[1] has keys ['user_id'] but instances[0] has ['history', 'user_id']"),
    ("plain instances for a multi-input signature", "POST", PREDICT, {"instances": ["u1"]}, 400,
     "holds plain values/lists, but signature 'serving_default' has inputs ['history', 'user_id']"),
    ("ragged columnar history", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1", "i2"], ["i3"]]}},
     400, "inputs['history'][1] has 1 elements but inputs['history'][0] has 2: ragged"),
    ("ragged row history", "POST", PREDICT,
     {"instances": [{"user_id": "u1", "history": ["i1", "i2"]}, {"user_id": "u2", "history": ["i3"]}]}, 400,
     "instances[1]['history'] has shape [1] but instances[0]['history'] has [2]"),
    ("value where a list belongs", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1"], "i2"]}},
     400, "inputs['history'][1]: found value \"i2\" where a list was expected"),
    ("history of the wrong rank", "POST", PREDICT, {"inputs": {"user_id": ["u1"], "history": ["i1"]}}, 400,
     "input 'history' of signature 'serving_default' must have shape [-1, -1], got [1]"),
    ("user_id of the wrong rank", "POST", PREDICT, {"inputs": {"user_id": [["u1"]], "history": [["i1"]]}}, 400,
     "input 'user_id' of signature 'serving_default' must have shape [-1], got [1, 1]"),
    ("batch sizes disagree", "POST", PREDICT, {"inputs": {"user_id": ["u1", "u2"], "history": [["i1"]]}}, 400,
     "disagree on the batch size (dimension 0): 'history' has 1, 'user_id' has 2"),
    ("JSON nested too deeply", "POST", PREDICT, '{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}", 400,
     "nested too deeply"),
    ("tensor of more than 32 dimensions", "POST", PREDICT,
     {"inputs": {"user_id": ["u1"], "history": functools.reduce(lambda value, _: [value], range(35), "i1")}},
     400, "inputs['history'] is nested 35 lists deep; tensors have at most 32 dimensions"),
    ("bad base64", "POST", PREDICT, {"signature_name": "similar_items", "inputs": [{"b64": "%%%"}]}, 400,
     "is not valid base64"),
    ("unknown model", "POST", "/v1/models/nope:predict", {"inputs": GOOD}, 404,
     "Servable not found for request: Latest(nope)"),
    ("unknown version", "POST", f"/v1/models/{MODEL}/versions/9:predict", {"inputs": GOOD}, 404,
     f"Servable not found for request: Specific({MODEL}, 9)"),
    ("status of unknown model", "GET", "/v1/models/nope", None, 404, "Could not find any versions of model nope"),
    ("status of unknown version", "GET", f"/v1/models/{MODEL}/versions/9", None, 404,
     f"Could not find version 9 of model {MODEL}"),
    ("metadata of unknown model", "GET", "/v1/models/nope/metadata", None, 404, "Servable not found"),
    ("no model name", "GET", "/v1/models", None, 400, "Missing model name in request."),
    ("unsupported verb", "POST", f"/v1/models/{MODEL}:classify", {"examples": []}, 400,
     f"Malformed request: POST /v1/models/{MODEL}:classify"),
    ("predict with GET", "GET", PREDICT, None, 400, f"Malformed request: GET {PREDICT}"),
    ("unsupported method", "DELETE", f"/v1/models/{MODEL}", None, 405, "Method Not Allowed"),
    ("path outside the API", "GET", "/models/avrec", None, 404, "Not found: /models/avrec"),
]


@pytest.mark.parametrize("name,method,path,body,status,text", BAD_REST_REQUESTS, ids=[r[0] for r in BAD_REST_REQUESTS])
def test_bad_rest_request_is_a_4xx_naming_the_problem(avrec_server, name, method, path, body, status, text):
    data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
    response = requests.request(method, f"http://127.0.0.1:{avrec_server.rest_port}{path}", data=data, timeout=10)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert text in response.json()["error"]
    assert "Traceback" not in response.text


def _tensor(values, dtype=tf.string):
    return tf.make_tensor_proto(np.array(values, dtype=object if dtype == tf.string else None), dtype=dtype)


def _predict_request(model=MODEL, signature="", version=None, label="", output_filter=(), **inputs):
    request = predict_pb2.PredictRequest(output_filter=list(output_filter))
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    request.model_spec.version_label = label
    if version is not None:
        request.model_spec.version.value = version
    for name, proto in inputs.items():
        request.inputs[name].CopyFrom(proto)
    return request


GOOD_GRPC = {"user_id": _tensor(["u1"]), "history": _tensor([["i1"]])}
BAD_GRPC_PREDICTS = [
    ("unknown model", _predict_request(model="nope", **GOOD_GRPC), "NOT_FOUND", "Latest(nope)"),
    ("unknown version", _predict_request(version=9, **GOOD_GRPC), "NOT_FOUND", f"Specific({MODEL}, 9)"),
    ("version label", _predict_request(label="stable", **GOOD_GRPC), "NOT_FOUND", "assigns no version labels"),
    ("unknown signature", _predict_request(signature="nope", **GOOD_GRPC), "INVALID_ARGUMENT",
     'Serving signature name: "nope" not found'),
    ("missing input", _predict_request(user_id=_tensor(["u1"])), "INVALID_ARGUMENT", "requires input(s) ['history']"),
    ("unknown input", _predict_request(age=_tensor([3.0], tf.float32), **GOOD_GRPC), "INVALID_ARGUMENT",
     "has no input named 'age'"),
    ("float for a string", _predict_request(user_id=_tensor([1.5], tf.float32), history=_tensor([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' of signature 'serving_default' must be of type string, got float32"),
    ("wrong rank", _predict_request(user_id=_tensor(["u1"]), history=_tensor(["i1"])), "INVALID_ARGUMENT",
     "must have shape [-1, -1], got [1]"),
    ("batch sizes disagree", _predict_request(user_id=_tensor(["u1", "u2"]), history=_tensor([["i1"]])),
     "INVALID_ARGUMENT", "disagree on the batch size"),
    ("shape and values disagree", _predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.float32.as_datatype_enum, tensor_content=b"abc",
                                       tensor_shape={"dim": [{"size": 1}]}), history=_tensor([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' is not a valid TensorProto"),
    ("huge replicated tensor", _predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.float32.as_datatype_enum, float_val=[1.0],
                                       tensor_shape={"dim": [{"size": 1 << 40}]}), history=_tensor([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' has shape [1099511627776]; inputs need sizes >= 0 and at most"),
    ("unknown output", _predict_request(output_filter=["rank"], **GOOD_GRPC), "INVALID_ARGUMENT",
     "has no output(s) ['rank']"),
]


@pytest.mark.parametrize("name,request_,code,text", BAD_GRPC_PREDICTS, ids=[r[0] for r in BAD_GRPC_PREDICTS])
def test_bad_grpc_predict_is_an_error_status_naming_the_problem(avrec_server, name, request_, code, text):
    with grpc.insecure_channel(f"127.0.0.1:{avrec_server.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as raised:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request_, timeout=10)
    assert raised.value.code().name == code
    assert text in raised.value.details()


def test_bad_grpc_status_and_metadata_requests(avrec_server):
    with grpc.insecure_channel(f"127.0.0.1:{avrec_server.grpc_port}") as channel:
        models = model_service_pb2_grpc.ModelServiceStub(channel)
        predictions = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        cases = [
            (models.GetModelStatus, get_model_status_pb2.GetModelStatusRequest(), "INVALID_ARGUMENT",
             "Missing ModelSpec"),
            (models.GetModelStatus, get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "nope"}),
             "NOT_FOUND", "Could not find any versions of model nope"),
            (predictions.GetModelMetadata, get_model_metadata_pb2.GetModelMetadataRequest(model_spec={"name": MODEL}),
             "INVALID_ARGUMENT", "must specify at least one metadata_field"),
            (predictions.GetModelMetadata, get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec={"name": MODEL}, metadata_field=["signature_def", "tags"]), "INVALID_ARGUMENT",
             "Metadata field(s) ['tags'] not supported"),
        ]
        for method, request, code, text in cases:
            with pytest.raises(grpc.RpcError) as raised:
                method(request, timeout=10)
            assert (raised.value.code().name, text in raised.value.details()) == (code, True)


# --- versions: hot swap, corrupt and half-written versions ---------------------------------------------------------

def _write_warmup(version_dir: Path, request: predict_pb2.PredictRequest) -> None:
    (version_dir / "assets.extra").mkdir()
    record = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    with tf.io.TFRecordWriter(str(version_dir / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(record.SerializeToString())


def _version_states(server: ModelServer) -> dict[int, tuple[str, str]]:
    status = server.repository.status(MODEL)
    return {s.version: (get_model_status_pb2.ModelVersionStatus.State.Name(s.state), s.status.error_message)
            for s in status.model_version_status}


def test_hot_swap_under_load_fails_no_request_and_bad_versions_never_take_over(tmp_path):
    (tmp_path / MODEL).mkdir()
    publish(CATALOG_1, tmp_path / MODEL, 1)
    answers = {version: expected_recommend(catalog, "u4", ["i2"])[0]
               for version, catalog in ((1, CATALOG_1), (2, CATALOG_2), (4, CATALOG_3))}
    with ModelServer(tmp_path, MODEL, host="127.0.0.1", rest_port=0, grpc_port=0, poll_seconds=0.1) as server:
        urls = [f"http://127.0.0.1:{server.rest_port}", f"grpc://127.0.0.1:{server.grpc_port}"]
        seen: list[list[int]] = [[] for _ in range(4)]
        failures: list[str] = []
        stop = threading.Event()

        def load(worker: int) -> None:
            with connect(urls[worker % 2], MODEL) as client:
                for _ in range(3000):  # bounded; stops early once the new version has been seen for a while
                    if stop.is_set():
                        return
                    try:
                        items = [item for item, _ in client.recommend("u4", ["i2"], k=K)]
                    except Exception as error:
                        failures.append(f"{type(error).__name__}: {error}")
                        continue
                    version = next((v for v, ids in answers.items() if ids == items), None)
                    if version is None:
                        failures.append(f"answer from no known version: {items}")
                    seen[worker].append(version)

        workers = [threading.Thread(target=load, args=(n,)) for n in range(len(seen))]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        version_2 = tmp_path / MODEL / ".v2"
        CATALOG_2.save_model(version_2, k=K)
        _write_warmup(version_2, _predict_request(user_id=_tensor(["u1"]), history=_tensor([["i1", ""]])))
        version_2.rename(tmp_path / MODEL / "2")
        wait_until(lambda: all(versions[-5:] == [2] * 5 for versions in seen), timeout=60)
        stop.set()
        for worker in workers:
            worker.join()
        total = sum(len(versions) for versions in seen)
        print(f"\nhot swap: {total} requests, {len(failures)} failed, "
              f"{sum(v.count(1) for v in seen)} answered by version 1 and {sum(v.count(2) for v in seen)} by version 2")
        assert failures == []
        for versions in seen:  # each client moves from version 1 to version 2 once, never back
            assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == 2
        assert _version_states(server) == {2: ("AVAILABLE", ""), 1: ("END", "")}

        # A corrupt version and a half-written one fail to load; version 2 keeps serving.
        (tmp_path / MODEL / "3").mkdir()
        (tmp_path / MODEL / "3" / "saved_model.pb").write_bytes(b"not a protobuf")
        shutil.copytree(tmp_path / MODEL / "2" / "variables", tmp_path / MODEL / "4" / "variables")
        states = wait_until(lambda: (lambda s: s if 3 in s and 4 in s and s[4][0] == "END" else None)(
            _version_states(server)))
        assert states[3][0] == "END" and "DecodeError" in states[3][1]
        assert states[4][0] == "END" and "no saved_model.pb" in states[4][1]
        with connect(urls[0], MODEL) as client:
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[2]
            assert client.status()["model_version_status"][2]["state"] == "AVAILABLE"

            # Once the half-written version is complete it is retried, loaded and served.
            CATALOG_3.save_model(tmp_path / MODEL / ".v4", k=K)
            for part in (tmp_path / MODEL / ".v4").iterdir():
                if part.name != "variables":
                    part.rename(tmp_path / MODEL / "4" / part.name)
            shutil.rmtree(tmp_path / MODEL / "4" / "variables")
            (tmp_path / MODEL / ".v4" / "variables").rename(tmp_path / MODEL / "4" / "variables")
            wait_until(lambda: server.repository.current.version == 4)
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[4]
            assert _version_states(server)[2] == ("END", "")

            # A version whose warmup request fails is not swapped in either.
            bad_warmup = tmp_path / MODEL / ".v5"
            CATALOG_1.save_model(bad_warmup, k=K)
            _write_warmup(bad_warmup, _predict_request(user_id=_tensor(["u1"])))
            bad_warmup.rename(tmp_path / MODEL / "5")
            states = wait_until(lambda: (lambda s: s if 5 in s and s[5][0] == "END" else None)(
                _version_states(server)))
            assert "requires input(s) ['history']" in states[5][1]
            assert [item for item, _ in client.recommend("u4", ["i2"], k=K)] == answers[4]


class _PickyModule(tf.Module):
    """Serves numbers given as text: refuses the server's made-up warm-up input (""), which must not stop it."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def double(self, text):
        return {"doubled": 2 * tf.strings.to_number(text)}


def test_a_signature_refusing_the_made_up_warmup_input_still_loads(tmp_path):
    module = _PickyModule()
    tf.saved_model.save(module, str(tmp_path / MODEL / "1"), signatures={"serving_default": module.double})
    with ModelServer(tmp_path, MODEL, host="127.0.0.1", rest_port=0, grpc_port=0) as server:
        response = requests.post(f"http://127.0.0.1:{server.rest_port}{PREDICT}", json={"instances": ["1.5", "2"]})
        assert response.json() == {"predictions": [3.0, 4.0]}
        bad = requests.post(f"http://127.0.0.1:{server.rest_port}{PREDICT}", json={"instances": ["x"]})
        assert bad.status_code == 400 and "StringToNumberOp could not correctly convert string: x" in bad.text


def test_server_refuses_a_missing_model_directory_and_a_busy_port(tmp_path, avrec_server):
    with pytest.raises(AvrecError, match="no model directory .*nope"):
        ModelServer(tmp_path, "nope")
    (tmp_path / MODEL).mkdir()
    busy = ModelServer(tmp_path, MODEL, host="127.0.0.1", rest_port=avrec_server.rest_port, grpc_port=0)
    with pytest.raises(AvrecError, match=f"cannot listen for REST on 127.0.0.1:{avrec_server.rest_port}"):
        busy.start()


def test_server_without_versions_answers_not_found_until_one_is_pushed(tmp_path):
    (tmp_path / MODEL).mkdir()
    with ModelServer(tmp_path, MODEL, host="127.0.0.1", rest_port=0, grpc_port=0, poll_seconds=0.1) as server:
        with connect(f"http://127.0.0.1:{server.rest_port}", MODEL) as client:
            with pytest.raises(ServingRequestError, match="no version has loaded yet") as raised:
                client.similar("i1")
            assert raised.value.code == 404
            publish(CATALOG_2, tmp_path / MODEL, 7)
            wait_until(lambda: server.repository.current is not None)
            assert_items(client.similar("i1"), expected_top_k(CATALOG_2, CATALOG_2.item_embeddings[1], ["i1"], K))


# --- command line and deployment files -----------------------------------------------------------------------------

def test_cli_serve_recommend_and_similar(model_base, tmp_path, capsys):
    rest_port, grpc_port = free_port(), free_port()
    served = ServerProcess([sys.executable, "-m", "avrec.cli", "serve", "--model-base-path", str(model_base),
                            "--model-name", MODEL, "--host", "127.0.0.1", "--rest-port", str(rest_port),
                            "--grpc-port", str(grpc_port)], rest_port, grpc_port, tmp_path / "serve.log")
    try:
        served.wait_ready()
        for url in (served.rest_url, served.grpc_url):
            assert cli.main(["recommend", "--server", url, "--user", "u1", "--history", "i3,i4", "--k", "3"]) == 0
            rows = [line.split(None, 3) for line in capsys.readouterr().out.splitlines()[1:]]
            ids, scores = expected_recommend(CATALOG_1, "u1", ["i3", "i4"], k=3)
            assert [row[1] for row in rows] == ids
            assert [float(row[2]) for row in rows] == pytest.approx(scores, abs=1e-4)
            assert [row[3] for row in rows] == [f"Title {item[1:]}" for item in ids]
        assert cli.main(["similar", "--server", served.rest_url, "--item", "i5", "--k", "2"]) == 0
        out = capsys.readouterr().out
        assert [line.split()[1] for line in out.splitlines()[1:]] == expected_top_k(
            CATALOG_1, CATALOG_1.item_embeddings[5], ["i5"], 2)[0]
        assert cli.main(["similar", "--server", served.rest_url, "--item", "i5", "--k", "11"]) == 2
        assert "k must be between 1 and 10" in capsys.readouterr().err
        assert cli.main(["recommend", "--server", served.rest_url, "--model-name", "nope", "--user", "u1"]) == 2
        assert "answered HTTP 404" in capsys.readouterr().err
    finally:
        assert served.stop() == 0, served.log_path.read_text()
    assert cli.main(["similar", "--server", served.rest_url, "--item", "i5"]) == 2
    assert "cannot reach the model server" in capsys.readouterr().err


def test_deployment_files_serve_the_pushed_directory_with_the_official_image():
    config = text_format.Parse((DEPLOY / "models.config").read_text(), model_server_config_pb2.ModelServerConfig())
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == (MODEL, f"/models/{MODEL}", "tensorflow")
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]["tf-serving"]
    assert compose["image"].startswith("tensorflow/serving:")
    assert "--model_config_file=/config/models.config" in compose["command"]
    assert any(volume.endswith(":/models:ro") for volume in compose["volumes"])
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    container = documents["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == compose["image"]
    assert container["readinessProbe"]["httpGet"]["path"] == f"/v1/models/{MODEL}"
    assert {port["containerPort"] for port in container["ports"]} == {8500, 8501}
    assert {mount["mountPath"] for mount in container["volumeMounts"]} == {"/models", "/config"}
    assert {port["port"] for port in documents["Service"]["spec"]["ports"]} == {8500, 8501}
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    assert kustomization["configMapGenerator"][0]["files"] == ["models.config"]
