"""One loaded version of a model: its SavedModel's signatures, checked and run the way TF Serving runs them.

Signatures are described by the SignatureDefs in saved_model.pb (what TF Serving validates against and reports as
metadata) and executed through `tf.saved_model.load`. Every input is checked against its SignatureDef before
TensorFlow sees it, so that a bad request gets an error naming the input instead of an op failure deep in the graph.
"""
from __future__ import annotations

import logging
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import error_codes_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, prediction_log_pb2

from avrec import contract
from avrec.serving.protocol import SIGNATURE_DEF_FIELD, ServingError, invalid

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
# TF Serving replays this file (a TFRecord of PredictionLog) before a version becomes available.
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
_GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _dtype_name(array: np.ndarray) -> str:
    return "string" if array.dtype.kind in "OSU" else array.dtype.name


class Signature:
    """A callable signature with the dtypes and shapes its SignatureDef promises."""

    def __init__(self, name: str, function, definition: meta_graph_pb2.SignatureDef):
        self.name = name
        self.function = function
        self.inputs = {key: (tf.as_dtype(info.dtype), tf.TensorShape(info.tensor_shape))
                       for key, info in sorted(definition.inputs.items())}
        self.outputs = sorted(definition.outputs)

    def input_dtype(self, name: str) -> tf.DType:
        if name not in self.inputs:
            raise invalid(f"signature '{self.name}' has no input named '{name}'; its inputs are {list(self.inputs)}")
        return self.inputs[name][0]

    def _check(self, arrays: dict[str, np.ndarray]) -> None:
        missing = [name for name in self.inputs if name not in arrays]
        if missing:
            raise invalid(f"signature '{self.name}' requires input(s) {missing}; its inputs are {list(self.inputs)}")
        batch_sizes = {}
        for name, array in sorted(arrays.items()):
            dtype, shape = self.input_dtype(name), self.inputs[name][1]
            if (dtype == tf.string) != (array.dtype.kind in "OSU") or (
                    dtype != tf.string and array.dtype != dtype.as_numpy_dtype):
                raise invalid(f"input '{name}' of signature '{self.name}' must be of type {dtype.name}, "
                              f"got {_dtype_name(array)}")
            if not shape.is_compatible_with(array.shape):
                raise invalid(f"input '{name}' of signature '{self.name}' must have shape "
                              f"{_shape_text(shape)}, got {list(array.shape)}")
            if shape.rank and shape[0] is None:
                batch_sizes[name] = array.shape[0]
        if len(set(batch_sizes.values())) > 1:
            sizes = ", ".join(f"'{name}' has {size}" for name, size in batch_sizes.items())
            raise invalid(f"inputs of signature '{self.name}' disagree on the batch size (dimension 0): {sizes}")

    def run(self, arrays: dict[str, np.ndarray], output_filter: list[str] | tuple = ()) -> dict[str, np.ndarray]:
        """Outputs (all, or those in `output_filter`) for `arrays`, one numpy array per input name."""
        unknown = [name for name in output_filter if name not in self.outputs]
        if unknown:
            raise invalid(f"signature '{self.name}' has no output(s) {unknown}; its outputs are {self.outputs}")
        self._check(arrays)
        tensors = {name: tf.constant(array, dtype=self.inputs[name][0]) for name, array in arrays.items()}
        try:
            outputs = self.function(**tensors)
        except tf.errors.OpError as error:
            raise ServingError(_GRPC_CODES.get(error.error_code, grpc.StatusCode.INTERNAL), error.message) from None
        wanted = output_filter or self.outputs
        return {name: outputs[name].numpy() for name in wanted}

    def example_inputs(self) -> dict[str, np.ndarray]:
        """A made-up batch of one for warm-up: unknown dimensions of size 1, strings empty (the contract's padding)."""
        return {name: np.full([] if shape.rank is None else [1 if dim is None else dim for dim in shape.as_list()],
                              b"" if dtype == tf.string else 0,
                              dtype=object if dtype == tf.string else dtype.as_numpy_dtype)
                for name, (dtype, shape) in self.inputs.items()}


def _shape_text(shape: tf.TensorShape) -> str:
    if shape.rank is None:
        return "of any rank"
    return "[" + ", ".join("-1" if dim is None else str(dim) for dim in shape.as_list()) + "]"


class LoadError(Exception):
    """A version that cannot be served: the message names the file at fault, `code` is TF's error code."""

    def __init__(self, where: str, cause: Exception | None = None):
        super().__init__(where if cause is None else f"{where}: {type(cause).__name__}: {cause}")
        self.code = cause.error_code if isinstance(cause, tf.errors.OpError) else error_codes_pb2.UNKNOWN


def load_failure(path: Path, error: Exception) -> LoadError:
    """Why the version at `path` did not load, naming the file where Servable knows it, else the version."""
    return error if isinstance(error, LoadError) else LoadError(str(path), error)


def _read_meta_graph(path: Path) -> meta_graph_pb2.MetaGraphDef:
    saved_model = saved_model_pb2.SavedModel()
    binary, text = path / "saved_model.pb", path / "saved_model.pbtxt"
    try:
        if binary.is_file():
            saved_model.ParseFromString(binary.read_bytes())
        elif text.is_file():
            text_format.Parse(text.read_text(), saved_model)
        else:
            raise LoadError(f"{path} holds no saved_model.pb or saved_model.pbtxt (half written, or no SavedModel)")
    except (DecodeError, text_format.ParseError, UnicodeDecodeError, OSError) as error:
        raise LoadError(f"{binary if binary.is_file() else text} is not a readable SavedModel", error) from None
    for meta_graph in saved_model.meta_graphs:
        if SERVE_TAG in meta_graph.meta_info_def.tags:
            return meta_graph
    raise LoadError(f"{binary if binary.is_file() else text} has no meta graph tagged '{SERVE_TAG}'")


class Servable:
    """A model version ready to answer requests; loading it may fail (LoadError), serving it does not change it."""

    def __init__(self, name: str, version: int, path: Path, warm_up: bool = True):
        self.name = name
        self.version = version
        meta_graph = _read_meta_graph(path)
        self._signature_defs = meta_graph.signature_def
        try:
            self._module = tf.saved_model.load(str(path), tags=[SERVE_TAG])
        except Exception as error:  # TF's message names the variable or asset file where it knows it
            raise LoadError(f"{path}: the SavedModel does not load", error) from None
        self._signatures = {key: Signature(key, function, meta_graph.signature_def[key])
                            for key, function in self._module.signatures.items()}
        if warm_up:
            self._warm_up(path / WARMUP_FILE)

    def signature(self, name: str) -> Signature:
        name = name or contract.SERVING_DEFAULT
        if name not in self._signatures:
            raise invalid(f'Serving signature name: "{name}" not found in signature def; '
                          f"this model has {sorted(self._signatures)}")
        return self._signatures[name]

    def metadata(self) -> get_model_metadata_pb2.GetModelMetadataResponse:
        """Every SignatureDef of the version (what TF Serving's metadata API reports)."""
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.name
        response.model_spec.version.value = self.version
        response.metadata[SIGNATURE_DEF_FIELD].Pack(
            get_model_metadata_pb2.SignatureDefMap(signature_def=self._signature_defs))
        return response

    def _warm_up(self, warmup_file: Path) -> None:
        """Replay the version's warmup requests, as TF Serving does, so that first requests are not slow; a failing
        one fails the load. Without the file, run each signature once on made-up inputs, which a signature may
        legitimately refuse (it is only a warm-up)."""
        if not warmup_file.is_file():
            for signature in self._signatures.values():
                try:
                    signature.run(signature.example_inputs())
                except ServingError as error:
                    log.info("%s version %d: signature '%s' refused the warm-up input (%s)", self.name,
                             self.version, signature.name, error.message[:200])
            return
        replayed = 0
        try:
            for record in tf.data.TFRecordDataset(str(warmup_file)).as_numpy_iterator():
                entry = prediction_log_pb2.PredictionLog.FromString(record)
                if entry.WhichOneof("log_type") != "predict_log":
                    raise LoadError(f"{warmup_file} record {replayed} is a {entry.WhichOneof('log_type')}; "
                                    "this server replays predict_log requests only")
                request = entry.predict_log.request
                self.signature(request.model_spec.signature_name).run(
                    {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()})
                replayed += 1
        except LoadError:
            raise
        except Exception as error:  # a failing warmup request fails the load, as in TF Serving
            raise LoadError(f"{warmup_file} record {replayed}", error) from None
        log.info("%s version %d: replayed %d warmup request(s)", self.name, self.version, replayed)
