"""The limits: a request over one is refused, naming the field and the flag (413 for a body), before its tensors are
built; beyond max_in_flight requests the server answers 503 / UNAVAILABLE at once, and past the request timeout
504 / DEADLINE_EXCEEDED."""
from __future__ import annotations

import contextlib
import json
import socket
import threading

import grpc
import pytest
import requests
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from avrec.serving.server import ModelServer
from tests.serving.conftest import SMALL_LIMITS
from tests.support.serving import LOOPBACK, MODEL, predict_request, tensor_proto

PREDICT = f"/v1/models/{MODEL}:predict"
BATCH = "this server answers at most 4 per request (--max-batch)"
LIST = "this server takes lists of at most 5 (--max-list-length)"
VALUES = "this server takes at most 12 per input (--max-tensor-elements)"

REST_OVER_LIMITS = [
    ("instances", {"instances": [{"user_id": "u1", "history": ["i1"]}] * 5}, f"'instances' has 5 instances; {BATCH}"),
    ("plain instances", {"signature_name": "similar_items", "instances": ["i1"] * 5},
     f"'instances' has 5 instances; {BATCH}"),
    ("columnar batch", {"inputs": {"user_id": ["u1"] * 5, "history": [["i1"]] * 5}},
     f"inputs['user_id'] has a batch of 5 (dimension 0); {BATCH}"),
    ("columnar history", {"inputs": {"user_id": ["u1"], "history": [["i1"] * 6]}},
     f"inputs['history'] has 6 elements in dimension 1; {LIST}"),
    ("row history", {"instances": [{"user_id": "u1", "history": ["i1"] * 6}]},
     f"instances[0]['history'] has 6 elements; {LIST}"),
    ("exclude", {"signature_name": "recommend",
                 "inputs": {"user_id": ["u1"], "history": [["i1"]], "exclude": [["i2"] * 6]}},
     f"inputs['exclude'] has 6 elements in dimension 1; {LIST}"),
    ("columnar values", {"inputs": {"user_id": ["u1"] * 3, "history": [["i1"] * 5] * 3}},
     f"inputs['history'] has 15 values; {VALUES}"),
    ("row values", {"instances": [{"user_id": "u1", "history": ["i1"] * 5}] * 3},
     f"instances[0]['history'] has 5 values, 15 in all 3 instances; {VALUES}"),
]


@pytest.fixture(scope="module")
def limited_server(model_base):
    server = ModelServer(model_base, MODEL, SMALL_LIMITS).start()
    yield server
    server.stop()


@pytest.mark.parametrize("name,body,text", REST_OVER_LIMITS, ids=[case[0] for case in REST_OVER_LIMITS])
def test_rest_request_over_a_limit_is_a_400_naming_the_field_and_the_flag(limited_server, name, body, text):
    response = requests.post(f"http://127.0.0.1:{limited_server.rest_port}{PREDICT}", json=body, timeout=10)
    assert (response.status_code, response.json()) == (400, {"error": text})


def test_rest_requests_within_the_limits_are_answered(limited_server, numeric_server):
    rows = {"instances": [{"user_id": "u1", "history": ["i1", "i2", "i3"]}] * 4}
    response = requests.post(f"http://127.0.0.1:{limited_server.rest_port}{PREDICT}", json=rows, timeout=10)
    assert response.status_code == 200 and len(response.json()["predictions"]) == 4
    # A width the signature fixes (8, over the list limit of 5) is the model's, not a list to bound.
    search = {"signature_name": "search_by_embedding", "inputs": {"query_embedding": [[0.5] * 8]}}
    response = requests.post(f"http://127.0.0.1:{numeric_server.rest_port}{PREDICT}", json=search, timeout=10)
    assert response.status_code == 200 and len(response.json()["outputs"]["item_ids"][0]) == 3


def test_a_body_over_the_limit_is_a_413_whether_its_length_is_declared_or_chunked(limited_server):
    url = f"http://127.0.0.1:{limited_server.rest_port}{PREDICT}"
    body = json.dumps({"inputs": {"user_id": ["u1"], "history": [["x" * 5000]]}}).encode()
    declared = requests.post(url, data=body, timeout=10)
    chunked = requests.post(url, data=(body[n:n + 1000] for n in range(0, len(body), 1000)), timeout=10)
    assert (declared.status_code, declared.json()) == (413, {"error": f"request body of {len(body)} bytes is over "
                                                                      "this server's limit of 4096 bytes "
                                                                      "(--max-body-bytes)"})
    assert (chunked.status_code, chunked.json()) == (413, {"error": "chunked request body is over this server's "
                                                                    "limit of 4096 bytes (--max-body-bytes)"})


def test_a_client_that_asks_before_sending_a_body_gets_the_413_without_sending_it(limited_server):
    with socket.create_connection(("127.0.0.1", limited_server.rest_port), timeout=10) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 40}\r\n"
                     "Expect: 100-continue\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")  # not "100 Continue"
    assert json.loads(body) == {"error": f"request body of {1 << 40} bytes is over this server's limit of 4096 "
                                         "bytes (--max-body-bytes)"}


GRPC_OVER_LIMITS = [
    ("batch", predict_request(user_id=tensor_proto(["u1"] * 5), history=tensor_proto([["i1"]] * 5)),
     "INVALID_ARGUMENT", f"input 'history' has a batch of 5 (dimension 0); {BATCH}"),
    ("replicated batch", predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.string.as_datatype_enum, string_val=[b"u1"],
                                       tensor_shape={"dim": [{"size": 1 << 40}]}), history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", f"input 'user_id' has a batch of 1099511627776 (dimension 0); {BATCH}"),
    ("history", predict_request(user_id=tensor_proto(["u1"]), history=tensor_proto([["i1"] * 6])),
     "INVALID_ARGUMENT", f"input 'history' has 6 elements in dimension 1; {LIST}"),
    ("values", predict_request(user_id=tensor_proto(["u1"] * 3), history=tensor_proto([["i1"] * 5] * 3)),
     "INVALID_ARGUMENT", f"input 'history' has 15 values; {VALUES}"),
    ("message", predict_request(user_id=tensor_proto(["u" * 5000]), history=tensor_proto([["i1"]])),
     "RESOURCE_EXHAUSTED", "Received message larger than max"),
]


@pytest.mark.parametrize("name,request_,code,text", GRPC_OVER_LIMITS, ids=[case[0] for case in GRPC_OVER_LIMITS])
def test_grpc_request_over_a_limit_is_refused_naming_the_field_and_the_flag(limited_server, name, request_, code,
                                                                             text):
    with grpc.insecure_channel(f"127.0.0.1:{limited_server.grpc_port}") as channel:
        with pytest.raises(grpc.RpcError) as raised:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request_, timeout=10)
    assert raised.value.code().name == code
    assert text in raised.value.details()


@contextlib.contextmanager
def blocked(server: ModelServer, signature: str = "similar_items"):
    """While inside, calls of the signature wait, as a long inference would, until the block is lifted; yields a
    semaphore released as each call starts, and the list of calls."""
    served = server.repository.current.signature(signature)
    original = served.function
    started, lifted, calls = threading.Semaphore(0), threading.Event(), []

    def waiting(**tensors):
        calls.append(tensors)
        started.release()
        lifted.wait()
        return original(**tensors)

    served.function = waiting
    try:
        yield started, calls
    finally:
        lifted.set()
        served.function = original


def _in_thread(call) -> tuple[threading.Thread, list]:
    answer = []
    thread = threading.Thread(target=lambda: answer.append(call()))
    thread.start()
    return thread, answer


SIMILAR = {"signature_name": "similar_items", "instances": ["i1"]}


def _grpc_similar(server: ModelServer):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        try:
            prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                predict_request(signature="similar_items", item_id=tensor_proto(["i1"])), timeout=60)
        except grpc.RpcError as error:
            return error.code().name, error.details()
        return "OK", ""


def test_beyond_max_in_flight_requests_are_answered_503_at_once(model_base):
    with ModelServer(model_base, MODEL, LOOPBACK.replace(max_in_flight=1)) as server:
        url = f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}"
        with blocked(server) as (started, _):
            first, answer = _in_thread(lambda: requests.post(f"{url}:predict", json=SIMILAR, timeout=60))
            assert started.acquire(timeout=60)
            busy = "server busy: 1 requests in flight, the most it takes at once (--max-in-flight); retry later"
            for response in (requests.post(f"{url}:predict", json=SIMILAR, timeout=10), requests.get(url, timeout=10)):
                assert (response.status_code, response.json()) == (503, {"error": busy})
            assert _grpc_similar(server) == ("UNAVAILABLE", busy)
        first.join()
        assert answer[0].status_code == 200
        with blocked(server) as (started, _):  # gRPC alone at the limit: grpcio itself refuses, at once
            first, answer = _in_thread(lambda: _grpc_similar(server))
            assert started.acquire(timeout=60)
            assert _grpc_similar(server) == ("RESOURCE_EXHAUSTED", "Concurrent RPC limit exceeded!")
            response = requests.post(f"{url}:predict", json=SIMILAR, timeout=10)
            assert (response.status_code, response.json()) == (503, {"error": busy})
        first.join()
        assert answer == [("OK", "")]
        assert requests.post(f"{url}:predict", json=SIMILAR, timeout=10).status_code == 200


def test_a_request_past_the_timeout_is_answered_504_and_one_still_queued_never_runs(model_base):
    config = LOOPBACK.replace(workers=1, max_in_flight=3, request_timeout_seconds=0.5)
    with ModelServer(model_base, MODEL, config) as server:
        url = f"http://127.0.0.1:{server.rest_port}{PREDICT}"
        late = "the request was not answered within 0.5 s (--request-timeout-seconds)"
        with blocked(server) as (started, calls):
            running, running_answer = _in_thread(lambda: requests.post(url, json=SIMILAR, timeout=60))
            assert started.acquire(timeout=60)  # the one worker is busy from here on
            queued = requests.post(url, json=SIMILAR, timeout=60)
            assert (queued.status_code, queued.json()) == (504, {"error": late})
            assert _grpc_similar(server) == ("DEADLINE_EXCEEDED", late)
            running.join()
            assert (running_answer[0].status_code, running_answer[0].json()) == (504, {"error": late})
        assert len(calls) == 1  # the queued requests were dropped, not run after their answer
        assert requests.post(url, json=SIMILAR, timeout=60).status_code == 200
