"""Property-based fuzzing of request decoding, REST (JSON) and gRPC (TensorProtos), on real servers: whatever a
client sends, the answer is a 4xx with a one-line {"error": ...} or a 200 that is strict JSON (REST), or any status
but INTERNAL and UNKNOWN with a one-line message (gRPC).

Requests are drawn near the valid ones (each signature's inputs, with wrong types, shapes, batches, names and JSON
literals mixed in) and far from them (any JSON, any bytes). Deterministic and bounded: derandomized, no example
database, a fixed number of examples each, against the synthetic contract model (default limits) and a model of the
other dtypes (small limits, so that the limits are crossed too). Run with -s for the tally of answers.
"""
from __future__ import annotations

import collections
import json
import warnings

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from avrec import contract
from avrec.serving.grpc_service import MODEL_SERVICE, PREDICTION_SERVICE
from tests.support.serving import MODEL

FUZZ = settings(max_examples=1000, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# Each signature's inputs: (kind of value, rank, fixed width of dimension 1 or None).
STRINGS = {"user_id": ("id", 1, None), "history": ("id", 2, None)}
SIGNATURES = {
    contract.SERVING_DEFAULT: STRINGS, contract.RECOMMEND: {**STRINGS, "exclude": ("id", 2, None)},
    contract.SIMILAR_ITEMS: {"item_id": ("id", 1, None)}, contract.ITEM_EMBEDDINGS: {"item_id": ("id", 1, None)},
    contract.ITEM_TITLES: {"item_id": ("id", 1, None)},
    contract.SEARCH_BY_EMBEDDING: {"query_embedding": ("float", 2, 8)},
    "typed": {"count": ("int", 1, None), "flag": ("bool", 1, None), "weights": ("float", 2, None)},
}
NUMERIC = {contract.SEARCH_BY_EMBEDDING, "typed"}  # served by numeric_server
# JSON text json.dumps cannot write: numbers beyond Python's floats and ints, and JSON's non-standard constants.
LITERALS = ["1" * 400, "1" * 5000, "1e400", "-1e400", "NaN", "Infinity", "-Infinity", "-0", "1e-400", "3.5e38",
            "2147483648", "-9223372036854775809", "18446744073709551616", '{"b64": "%%"}', '{"b64": "aTE="}']
_HOLE = "\x00@literal@\x00"

# Strings JSON can carry but UTF-8 cannot (lone surrogates: juxtaposed, two would pair), and control characters.
odd_text = st.sampled_from(["\ud800", "x\udfff", "\udc00\ud800", "a\nb", "\x00", "\u2028"]) | st.text(max_size=8)
ids = st.sampled_from(["u1", "u2", "i1", "i5", "", "never-seen"]) | odd_text
# Finite floats whose products overflow float32 / float64 (scores of Infinity or NaN), beside ordinary ones.
huge = st.sampled_from([3e38, -3e38, 1.7e308, -1.7e308, 1e-45])
numbers = st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.floats(-1e39, 1e39) | huge
leaves = st.none() | st.booleans() | numbers | odd_text | st.builds(lambda text: {"b64": text}, odd_text) \
    | st.just(_HOLE)
any_json = st.recursive(leaves, lambda children: st.lists(children, max_size=4)
                        | st.dictionaries(st.sampled_from(["inputs", "instances", "signature_name", "b64"])
                                          | odd_text, children, max_size=4), max_leaves=25)
RIGHT = {"id": ids, "float": st.floats(-10, 10) | huge, "int": st.integers(-100, 100), "bool": st.booleans()}
# One fault per request, or none: a value of another type or a JSON literal, another rank, batch or width, a ragged
# list, a batch over the server's limit, an input missing or unknown, an unknown signature, an extra request key.
FAULTS = ["none"] * 6 + ["value", "literal", "rank", "batch", "width", "ragged", "limit", "missing", "unknown",
                         "signature", "key"]
TENSOR_FAULTS = {"value", "literal", "rank", "batch", "width", "ragged"}
TALLY = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    print(f"\nfuzz corpus: {sum(TALLY.values())} requests; answers {dict(sorted(TALLY.items()))}")


@st.composite
def _tensor(draw, kind: str, rank: int, width: int | None, batch: int, fault: str = "none"):
    """Nested lists of the input's shape and kind, with `fault` in them."""
    rank = rank + draw(st.sampled_from([-1, 1])) if fault == "rank" and rank else rank
    shape = [batch + draw(st.sampled_from([-batch, 1]))] if fault == "batch" else [batch]
    shape = shape[:rank] + [width or draw(st.integers(0, 3)) for _ in range(rank - 1)]
    if fault == "width" and rank > 1:
        shape[1] += draw(st.integers(1, 7))
    values = [draw(RIGHT[kind]) for _ in range(int(np.prod(shape)))]
    if fault in ("value", "literal") and values:
        values[draw(st.integers(0, len(values) - 1))] = draw(leaves) if fault == "value" else _HOLE
    nested = np.array(values + [None], dtype=object)[:-1].reshape(shape).tolist()
    if fault == "ragged" and rank > 1 and shape[1]:
        nested[-1].pop()
    return nested


@st.composite
def near_valid_inputs(draw):
    """(signature, fault, {input name: nested lists}): a signature's inputs, with at most one fault."""
    signature = draw(st.sampled_from(sorted(SIGNATURES)))
    fault = draw(st.sampled_from(FAULTS))
    spec = dict(SIGNATURES[signature])
    target = draw(st.sampled_from(sorted(spec)))
    if fault == "missing":
        del spec[target]
    elif fault == "unknown":
        spec[draw(odd_text.filter(lambda name: name not in spec))] = ("id", 1, None)
    batch = (1025 if signature not in NUMERIC else 5) if fault == "limit" else draw(st.integers(1, 3))
    tensors = {name: draw(_tensor(*kinds, batch, fault if name == target else "none")) for name, kinds in spec.items()}
    if fault == "signature":
        signature = draw(st.sampled_from(["nope", "evaluate"]) | odd_text)
    return signature, fault, tensors


@st.composite
def near_valid_requests(draw) -> tuple[str, dict]:
    """(signature, request object) in columnar or row format (plain values for a one-input signature)."""
    signature, fault, tensors = draw(near_valid_inputs())
    request = {} if signature == contract.SERVING_DEFAULT and draw(st.booleans()) else {"signature_name": signature}
    batch = max((len(value) for value in tensors.values() if isinstance(value, list)), default=1)
    if draw(st.booleans()):
        request["inputs"] = tensors
    else:
        rows = [{name: value[row] if isinstance(value, list) and row < len(value) else value
                 for name, value in tensors.items()} for row in range(batch)]
        plain = len(tensors) == 1 and draw(st.booleans())
        request["instances"] = [next(iter(row.values())) for row in rows] if plain else rows
    if fault == "key":
        request[draw(st.sampled_from(["inputs", "instances", "signature_name", "k"]))] = draw(any_json)
    return signature, request


def _post(server, body: bytes) -> None:
    response = requests.post(f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}:predict", data=body, timeout=60)
    TALLY[f"REST {response.status_code}"] += 1
    assert 200 <= response.status_code < 500, response.text[:500]
    assert response.headers["Content-Type"] == "application/json"
    answer = json.loads(response.text, parse_constant=lambda constant: pytest.fail(f"bare {constant} in the answer"))
    if response.status_code == 200:
        assert len(answer) == 1 and set(answer) <= {"predictions", "outputs"}
    else:
        assert set(answer) == {"error"} and "\n" not in answer["error"] and "Traceback" not in answer["error"]


def _dumped(request, literal: str) -> bytes:
    return json.dumps(request).replace(json.dumps(_HOLE)[1:-1], literal).encode()  # ASCII: \ud800 escaped


@FUZZ
@given(near_valid_requests(), st.sampled_from(LITERALS))
def test_fuzzed_rest_requests_near_valid_ones_get_4xx_or_strict_json(avrec_server, numeric_server, case, literal):
    signature, request = case
    _post(numeric_server if signature in NUMERIC else avrec_server, _dumped(request, literal))


@settings(FUZZ, max_examples=250)
@given(any_json, st.sampled_from(LITERALS), st.binary(max_size=64))
def test_fuzzed_rest_bodies_of_any_json_or_bytes_get_4xx(avrec_server, numeric_server, value, literal, raw):
    _post(avrec_server, _dumped(value, literal))
    _post(numeric_server, raw)


DTYPES = {"id": tf.string, "float": tf.float32, "int": tf.int32, "bool": tf.bool}
PROTO_FAULTS = ["none"] * 3 + ["dtype", "shape", "content", "values"]
# Dtypes without a numpy type, references, quantized and complex ones, none at all, and no DataType.
EDGE_DTYPES = [types_pb2.DT_VARIANT, types_pb2.DT_RESOURCE, types_pb2.DT_INVALID, types_pb2.DT_FLOAT_REF,
               types_pb2.DT_QINT8, types_pb2.DT_COMPLEX64, types_pb2.DT_BFLOAT16, types_pb2.DT_HALF, 999]


@st.composite
def _tensor_proto(draw, value, kind: str) -> tensor_pb2.TensorProto:
    """`value` as the TensorProto a client would make of it, with at most one field then set to anything."""
    try:
        with warnings.catch_warnings():  # NaN or 1e39 cast to an integer or float32: what a careless client sends
            warnings.simplefilter("ignore", RuntimeWarning)
            proto = tf.make_tensor_proto(np.array(value, dtype=object if kind == "id" else None), dtype=DTYPES[kind])
    except (TypeError, ValueError, OverflowError):  # values no tensor of that dtype holds
        proto = tensor_pb2.TensorProto()
    fault = draw(st.sampled_from(PROTO_FAULTS))
    if fault == "dtype":
        proto.dtype = draw(st.sampled_from(EDGE_DTYPES) | st.sampled_from(types_pb2.DataType.values())
                           | st.integers(-3, 400))
    elif fault == "shape":
        del proto.tensor_shape.dim[:]
        for size in draw(st.lists(st.integers(-2, 8) | st.sampled_from([1 << 20, 1 << 40, 2 ** 63 - 1]),
                                  max_size=4)):
            proto.tensor_shape.dim.add(size=size)
        proto.tensor_shape.unknown_rank = draw(st.integers(0, 5)) == 0
    elif fault == "content":
        proto.tensor_content = draw(st.binary(max_size=64))
    elif fault == "values":
        proto.string_val.extend(draw(st.lists(st.binary(max_size=8), max_size=4)))
        proto.float_val.extend(draw(st.lists(st.floats(width=32), max_size=4)))
        proto.int_val.extend(draw(st.lists(st.integers(-2 ** 31, 2 ** 31 - 1), max_size=4)))
        proto.half_val.extend(draw(st.lists(st.integers(0, 2 ** 16 - 1), max_size=4)))
    return proto


def _utf8(text: str) -> str:
    """`text` as a protobuf string can hold it (UTF-8: no lone surrogates)."""
    return text.encode("utf-8", "replace").decode()


@st.composite
def predict_requests(draw) -> tuple[str, predict_pb2.PredictRequest]:
    signature, _, tensors = draw(near_valid_inputs())
    request = predict_pb2.PredictRequest()
    request.model_spec.name = draw(st.sampled_from([MODEL] * 5 + ["nope"]))
    request.model_spec.signature_name = _utf8(signature)
    if draw(st.integers(0, 9)) == 0:
        request.model_spec.version.value = draw(st.integers(-2 ** 63, 2 ** 63 - 1))
    for name, value in tensors.items():
        kind = SIGNATURES.get(signature, {}).get(name, ("id",))[0]
        request.inputs[_utf8(name)].CopyFrom(draw(_tensor_proto(json.loads(_dumped(value, "1e39")), kind)))
    if draw(st.integers(0, 5)) == 0:
        request.output_filter.extend(draw(st.lists(st.sampled_from(["item_ids", "scores", "total", "nope"]),
                                                   min_size=1, max_size=2)))
    return signature, request


def _call(server, method: str, data: bytes) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        try:
            channel.unary_unary(method)(data, timeout=60)
            TALLY["gRPC OK"] += 1
        except grpc.RpcError as error:
            TALLY[f"gRPC {error.code().name}"] += 1
            assert error.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), error.details()
            assert "\n" not in error.details()


@FUZZ
@given(predict_requests())
def test_fuzzed_grpc_predict_requests_are_never_internal(avrec_server, numeric_server, case):
    signature, request = case
    server = numeric_server if signature in NUMERIC else avrec_server
    _call(server, f"/{PREDICTION_SERVICE}/Predict", request.SerializeToString())


@settings(FUZZ, max_examples=250)
@given(st.binary(max_size=64), st.sampled_from([f"/{PREDICTION_SERVICE}/Predict",
                                                f"/{PREDICTION_SERVICE}/GetModelMetadata",
                                                f"/{MODEL_SERVICE}/GetModelStatus"]))
def test_fuzzed_grpc_messages_of_any_bytes_are_never_internal(avrec_server, raw, method):
    _call(avrec_server, method, raw)
