"""The gRPC client, with tensorflow-serving-api's stubs (kept apart: it needs TensorFlow for TensorProtos)."""
from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from avrec import contract
from avrec.serving.client import ServingClient, ServingRequestError
from avrec.serving.protocol import SIGNATURE_DEF_FIELD, metadata_json, status_json


class GrpcClient(ServingClient):
    def __init__(self, target: str, model_name: str, timeout: float = 10.0):
        super().__init__(f"grpc://{target}", model_name)
        self.timeout = timeout
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                raise ServingRequestError(f"cannot reach the model server at {self.url} ({error.details()}); "
                                          "is it running?", error.code().name) from None
            raise ServingRequestError(f"the model server at {self.url} answered {error.code().name}: "
                                      f"{error.details()}", error.code().name) from None

    def predict(self, inputs: dict[str, list], signature: str = "") -> dict[str, list]:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model_name
        request.model_spec.signature_name = signature
        declared = self.signature_def(signature or contract.SERVING_DEFAULT)["inputs"]
        for name, value in inputs.items():
            dtype = tf.as_dtype(types_pb2.DataType.Value(declared[name]["dtype"])) if name in declared else tf.string
            array = np.array(value, dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
            request.inputs[name].CopyFrom(tf.make_tensor_proto(array, dtype=dtype))
        response = self._call(self._predictions.Predict, request)
        outputs = {}
        for name, proto in response.outputs.items():
            array = tf.make_ndarray(proto)
            if array.dtype == object:
                array = np.frompyfunc(lambda value: value.decode("utf-8", "replace"), 1, 1)(array)
            outputs[name] = array.tolist()
        return outputs

    def status(self) -> dict:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = self.model_name
        return status_json(self._call(self._models.GetModelStatus, request))

    def metadata(self) -> dict:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=[SIGNATURE_DEF_FIELD])
        request.model_spec.name = self.model_name
        return metadata_json(self._call(self._predictions.GetModelMetadata, request))

    def close(self) -> None:
        self._channel.close()
