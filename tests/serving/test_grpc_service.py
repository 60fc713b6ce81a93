"""TF Serving's gRPC API: every malformed request is an error status whose details name the problem."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from tests.support.serving import MODEL, predict_request, tensor_proto

GOOD_GRPC = {"user_id": tensor_proto(["u1"]), "history": tensor_proto([["i1"]])}
BAD_GRPC_PREDICTS = [
    ("unknown model", predict_request(model="nope", **GOOD_GRPC), "NOT_FOUND", "Latest(nope)"),
    ("unknown version", predict_request(version=9, **GOOD_GRPC), "NOT_FOUND", f"Specific({MODEL}, 9)"),
    ("version label", predict_request(label="stable", **GOOD_GRPC), "NOT_FOUND", "assigns no version labels"),
    ("unknown signature", predict_request(signature="nope", **GOOD_GRPC), "INVALID_ARGUMENT",
     'Serving signature name: "nope" not found'),
    ("missing input", predict_request(user_id=tensor_proto(["u1"])), "INVALID_ARGUMENT", "requires input(s) ['history']"),
    ("unknown input", predict_request(age=tensor_proto([3.0], tf.float32), **GOOD_GRPC), "INVALID_ARGUMENT",
     "has no input named 'age'"),
    ("float for a string", predict_request(user_id=tensor_proto([1.5], tf.float32), history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' of signature 'serving_default' must be of type string, got float32"),
    ("wrong rank", predict_request(user_id=tensor_proto(["u1"]), history=tensor_proto(["i1"])), "INVALID_ARGUMENT",
     "must have shape [-1, -1], got [1]"),
    ("batch sizes disagree", predict_request(user_id=tensor_proto(["u1", "u2"]), history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "disagree on the batch size"),
    ("shape and values disagree", predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.string.as_datatype_enum, string_val=[b"u1", b"u2", b"u3"],
                                       tensor_shape={"dim": [{"size": 2}]}), history=tensor_proto([["i1"], ["i2"]])),
     "INVALID_ARGUMENT", "input 'user_id' is not a valid TensorProto"),
    ("dtype without a numpy type", predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.variant.as_datatype_enum, tensor_shape={"dim": [{"size": 1}]}),
        history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' of signature 'serving_default' must be of type string, got variant"),
    ("dtype left unset", predict_request(user_id=tensor_pb2.TensorProto(), history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "must be of type string, got DT_INVALID"),
    ("negative size", predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.string.as_datatype_enum, tensor_shape={"dim": [{"size": -1}]}),
        history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' has shape [-1]; a request's tensors need a known shape"),
    ("unknown rank", predict_request(
        user_id=tensor_pb2.TensorProto(dtype=tf.string.as_datatype_enum, tensor_shape={"unknown_rank": True}),
        history=tensor_proto([["i1"]])),
     "INVALID_ARGUMENT", "input 'user_id' has shape [] of unknown rank"),
    ("unknown output", predict_request(output_filter=["rank"], **GOOD_GRPC), "INVALID_ARGUMENT",
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
