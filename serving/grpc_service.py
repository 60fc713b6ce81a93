"""TF Serving's gRPC API over a ModelRepository: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), with the request and response messages of tensorflow-serving-api.

Classify, Regress, MultiInference and HandleReloadConfigRequest keep the generated servicer's UNIMPLEMENTED answer:
the avrec models have no Example-based signatures, and the served model comes from the command line.
"""
from __future__ import annotations

import logging
import math

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (get_model_metadata_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc)

from avrec.serving.protocol import SIGNATURE_DEF_FIELD, ServingError, invalid, not_found
from avrec.serving.repository import ModelRepository
from avrec.serving.servable import Servable

log = logging.getLogger(__name__)

# A TensorProto may carry one value for a tensor of any size (TF fills it): refuse sizes that only exhaust memory.
MAX_INPUT_ELEMENTS = 1 << 26


def _answer(context: grpc.ServicerContext, handler, request):
    """Run a handler; a ServingError becomes its status, anything else INTERNAL with a one-line message."""
    try:
        return handler(request)
    except ServingError as error:
        context.abort(error.code, error.message)
    except Exception as error:
        log.exception("gRPC request failed")
        context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")


def _servable(repository: ModelRepository, spec) -> Servable:
    if spec.version_label:
        raise not_found(f"Servable not found for request: Label({spec.name}, {spec.version_label}); "
                        "this server assigns no version labels")
    return repository.servable(spec.name, spec.version.value if spec.HasField("version") else None)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, repository: ModelRepository):
        self._repository = repository

    def Predict(self, request, context):
        return _answer(context, self._predict, request)

    def GetModelMetadata(self, request, context):
        return _answer(context, self._metadata, request)

    def _predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        servable = _servable(self._repository, request.model_spec)
        signature = servable.signature(request.model_spec.signature_name)
        arrays = {}
        for name, proto in request.inputs.items():
            signature.input_dtype(name)
            elements = math.prod(dim.size for dim in proto.tensor_shape.dim)
            if elements > MAX_INPUT_ELEMENTS or any(dim.size < 0 for dim in proto.tensor_shape.dim):
                raise invalid(f"input '{name}' has shape {[dim.size for dim in proto.tensor_shape.dim]}; "
                              f"inputs need sizes >= 0 and at most {MAX_INPUT_ELEMENTS} elements")
            try:
                arrays[name] = tf.make_ndarray(proto)
            except (TypeError, ValueError) as error:
                raise invalid(f"input '{name}' is not a valid TensorProto: {error}") from None
        outputs = signature.run(arrays, list(request.output_filter))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature.name
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
        return response

    def _metadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest):
        if not request.metadata_field:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        unsupported = [field for field in request.metadata_field if field != SIGNATURE_DEF_FIELD]
        if unsupported:
            raise invalid(f"Metadata field(s) {unsupported} not supported; supported: ['{SIGNATURE_DEF_FIELD}']")
        return _servable(self._repository, request.model_spec).metadata()


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, repository: ModelRepository):
        self._repository = repository

    def GetModelStatus(self, request, context):
        return _answer(context, self._status, request)

    def _status(self, request):
        if not request.HasField("model_spec"):
            raise invalid("Missing ModelSpec")
        spec = request.model_spec
        return self._repository.status(spec.name, spec.version.value if spec.HasField("version") else None)


def add_services(server: grpc.Server, repository: ModelRepository) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(repository), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(repository), server)
