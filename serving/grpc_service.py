"""TF Serving's gRPC API over a ModelRepository: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), with the request and response messages of tensorflow-serving-api.

Classify, Regress, MultiInference and HandleReloadConfigRequest are not registered, so grpcio answers them
UNIMPLEMENTED: the avrec models have no Example-based signatures, and the served model comes from the command line.
Requests are parsed by the handlers rather than by grpcio, which would answer a message that does not parse
INTERNAL: it is the client's mistake, INVALID_ARGUMENT.
"""
from __future__ import annotations

import logging
import math

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

from avrec.config import ServingConfig
from avrec.serving.limits import LARGE_REQUEST, RequestRunner, check_shape
from avrec.serving.protocol import SIGNATURE_DEF_FIELD, ServingError, invalid, not_found
from avrec.serving.repository import ModelRepository
from avrec.serving.servable import Servable, Signature

log = logging.getLogger(__name__)

PREDICTION_SERVICE = "tensorflow.serving.PredictionService"
MODEL_SERVICE = "tensorflow.serving.ModelService"


def _parse(message_class, data: bytes):
    try:
        return message_class.FromString(data)
    except DecodeError as error:
        raise invalid(f"the request is not a valid {message_class.DESCRIPTOR.full_name} message: {error}") from None


def _answer(runner: RequestRunner, context: grpc.ServicerContext, work, message_class, data: bytes):
    """Parse a request and run `work` on it on the runner, within the request timeout (or the client's deadline,
    if sooner); a ServingError becomes its status, anything else INTERNAL with a one-line message."""
    try:
        request = _parse(message_class, data)
        task = runner.submit(runner.admit(), _large(request), work, request)
        remaining = context.time_remaining()
        seconds = runner.timeout if remaining is None else min(runner.timeout, remaining)
        try:
            return task.result(seconds)
        except TimeoutError:  # the work is cancelled if it has not started; its slot is held until it ends
            task.cancel()
            raise runner.timed_out(seconds) from None
    except ServingError as error:
        context.abort(error.code, error.message)
    except Exception as error:
        log.exception("gRPC request failed")
        context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")


def _large(request) -> bool:
    """Whether a request's message or the tensors it declares are large (see limits.LARGE_REQUEST)."""
    if not isinstance(request, predict_pb2.PredictRequest):
        return False
    values = sum(math.prod(max(dim.size, 0) for dim in proto.tensor_shape.dim) for proto in request.inputs.values())
    return max(values, request.ByteSize()) >= LARGE_REQUEST


def _dtype_name(enum: int) -> str:
    try:
        return tf.as_dtype(enum).name
    except TypeError:  # DT_INVALID (unset), or a number that is no DataType
        return types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else f"DataType {enum}"


def _input_array(signature: Signature, name: str, proto: tensor_pb2.TensorProto, config: ServingConfig) -> np.ndarray:
    """A request's TensorProto as an array, once its dtype and shape (a TensorProto may carry one value for a
    tensor of any size, which TF replicates) are known to be the signature's and within the limits."""
    dtype = signature.input_dtype(name)
    if proto.dtype != dtype.as_datatype_enum:
        raise invalid(f"input '{name}' of signature '{signature.name}' must be of type {dtype.name}, "
                      f"got {_dtype_name(proto.dtype)}")
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if proto.tensor_shape.unknown_rank or any(size < 0 for size in shape):
        raise invalid(f"input '{name}' has shape {shape}{' of unknown rank' * proto.tensor_shape.unknown_rank}; "
                      "a request's tensors need a known shape with sizes >= 0")
    check_shape(f"input '{name}'", shape, signature.inputs[name][1], config)
    try:
        return tf.make_ndarray(proto)
    except (TypeError, ValueError) as error:
        raise invalid(f"input '{name}' is not a valid TensorProto: {error}") from None


def _servable(repository: ModelRepository, spec) -> Servable:
    if spec.version_label:
        raise not_found(f"Servable not found for request: Label({spec.name}, {spec.version_label}); "
                        "this server assigns no version labels")
    return repository.servable(spec.name, spec.version.value if spec.HasField("version") else None)


class _Handlers:
    """The implemented methods, each from a parsed request to its response message."""

    def __init__(self, repository: ModelRepository, config: ServingConfig):
        self._repository = repository
        self._config = config

    def predict(self, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
        servable = _servable(self._repository, request.model_spec)
        signature = servable.signature(request.model_spec.signature_name)
        arrays = {name: _input_array(signature, name, proto, self._config)
                  for name, proto in sorted(request.inputs.items())}
        outputs = signature.run(arrays, list(request.output_filter))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature.name
        for name, array in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
        return response

    def metadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest):
        if not request.metadata_field:
            raise invalid("GetModelMetadataRequest must specify at least one metadata_field")
        unsupported = [field for field in request.metadata_field if field != SIGNATURE_DEF_FIELD]
        if unsupported:
            raise invalid(f"Metadata field(s) {unsupported[:10]} not supported; supported: ['{SIGNATURE_DEF_FIELD}']")
        return _servable(self._repository, request.model_spec).metadata()

    def status(self, request: get_model_status_pb2.GetModelStatusRequest):
        if not request.HasField("model_spec"):
            raise invalid("Missing ModelSpec")
        spec = request.model_spec
        return self._repository.status(spec.name, spec.version.value if spec.HasField("version") else None)


def _method(runner: RequestRunner, message_class, work) -> grpc.RpcMethodHandler:
    def call(data: bytes, context: grpc.ServicerContext):
        return _answer(runner, context, work, message_class, data)

    return grpc.unary_unary_rpc_method_handler(call, response_serializer=lambda message: message.SerializeToString())


def add_services(server: grpc.Server, repository: ModelRepository, runner: RequestRunner) -> None:
    handlers = _Handlers(repository, runner.config)
    server.add_generic_rpc_handlers([
        grpc.method_handlers_generic_handler(PREDICTION_SERVICE, {
            "Predict": _method(runner, predict_pb2.PredictRequest, handlers.predict),
            "GetModelMetadata": _method(runner, get_model_metadata_pb2.GetModelMetadataRequest, handlers.metadata)}),
        grpc.method_handlers_generic_handler(MODEL_SERVICE, {
            "GetModelStatus": _method(runner, get_model_status_pb2.GetModelStatusRequest, handlers.status)}),
    ])
