"""TF Serving's REST API over a ModelRepository, on tornado.

Paths, payloads and errors follow TF Serving's HTTP handler: GET /v1/models/NAME[/versions/V][/metadata],
POST /v1/models/NAME[/versions/V]:predict with "instances" (row) or "inputs" (columnar) tensors, and
{"error": "..."} bodies with its status-code mapping. Request decoding, inference and encoding run in a thread pool,
so the event loop only moves bytes.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from concurrent.futures import Executor
from urllib.parse import unquote

import numpy as np
import tensorflow as tf
import tornado.web
from tornado.ioloop import IOLoop

from avrec.serving.protocol import ServingError, invalid, metadata_json, status_json
from avrec.serving.repository import ModelRepository
from avrec.serving.servable import Signature

log = logging.getLogger(__name__)

_PREDICT_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict", re.IGNORECASE)
_MODEL_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/(\d+))?(/metadata)?", re.IGNORECASE)
_B64 = "b64"
_MAX_RANK = 32  # numpy's limit


def _json_text(value) -> str:
    return json.dumps(value)[:100]


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64), str)


def _scalar(value, dtype: tf.DType, what: str, where: str):
    """One JSON leaf as a value of `dtype` (TF Serving's JSON mapping; strings may be {"b64": ...})."""
    if dtype == tf.string:
        if isinstance(value, str):
            return value.encode("utf-8")
        if _is_b64(value):
            try:
                return base64.b64decode(value[_B64], validate=True)
            except binascii.Error:
                raise invalid(f"{what}{where}: {_json_text(value)} is not valid base64") from None
    elif dtype == tf.bool:
        if isinstance(value, bool):
            return value
    elif dtype.is_floating:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif dtype.is_integer:
        if isinstance(value, int) and not isinstance(value, bool) and dtype.min <= value <= dtype.max:
            return value
    else:
        raise invalid(f"{what}: inputs of type {dtype.name} are not supported over REST")
    raise invalid(f"{what}{where}: JSON value {_json_text(value)} is not of expected type {dtype.name}")


def _to_array(value, dtype: tf.DType, what: str) -> np.ndarray:
    """A (nested) JSON list as a dense array; ragged nesting is an error that says where it is."""
    shape = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            break
        probe = probe[0]
    if len(shape) > _MAX_RANK:
        raise invalid(f"{what} is nested {len(shape)} lists deep; tensors have at most {_MAX_RANK} dimensions")
    flat = []

    def visit(item, index: tuple) -> None:
        where = "".join(f"[{i}]" for i in index)
        if isinstance(item, list):
            if len(index) == len(shape):
                raise invalid(f"{what}{where}: found a list where a value was expected "
                              f"(element {'[0]' * len(index)} is a value); nest all elements equally")
            if len(item) != shape[len(index)]:
                first = "".join(f"[{i}]" for i in index[:-1]) + "[0]" if index else ""
                raise invalid(f"{what}{where} has {len(item)} elements but {what}{first} has "
                              f"{shape[len(index)]}: ragged lists are not tensors; right-pad rows to equal length")
            for position, element in enumerate(item):
                visit(element, index + (position,))
        elif len(index) != len(shape):
            raise invalid(f"{what}{where}: found value {_json_text(item)} where a list was expected "
                          f"(element {'[0]' * len(shape)} is nested {len(shape)} deep)")
        else:
            flat.append(_scalar(item, dtype, what, where))

    visit(value, ())
    numpy_dtype = object if dtype == tf.string else dtype.as_numpy_dtype
    return np.array(flat, dtype=numpy_dtype).reshape(shape)


def _column_inputs(columns, signature: Signature) -> dict[str, np.ndarray]:
    """Columnar format: an object of name -> tensor, or the one input's tensor when the signature has just one."""
    if isinstance(columns, dict) and not _is_b64(columns):
        return {name: _to_array(value, signature.input_dtype(name), f"inputs['{name}']")
                for name, value in columns.items()}
    name = _only_input(signature, "'inputs'")
    return {name: _to_array(columns, signature.inputs[name][0], "inputs")}


def _only_input(signature: Signature, what: str) -> str:
    if len(signature.inputs) != 1:
        raise invalid(f"{what} holds plain values/lists, but signature '{signature.name}' has inputs "
                      f"{list(signature.inputs)}: send objects with one key per input")
    return next(iter(signature.inputs))


def _row_inputs(instances: list, signature: Signature) -> dict[str, np.ndarray]:
    """Row format: a list of per-example objects (or plain values for a one-input signature), batched."""
    objects = [isinstance(row, dict) and not _is_b64(row) for row in instances]
    if any(objects) and not all(objects):
        raise invalid("'instances' mixes objects and plain values; use one or the other")
    if not objects[0]:
        name = _only_input(signature, "'instances'")
        instances = [{name: row} for row in instances]
    keys = sorted(instances[0])
    arrays = {}
    for key in keys:
        rows = []
        for position, row in enumerate(instances):
            if sorted(row) != keys:
                raise invalid(f"instances[{position}] has keys {sorted(row)} but instances[0] has {keys}; "
                              "every instance needs the same inputs")
            where = f"instances[{position}]" + (f"['{key}']" if objects[0] else "")
            rows.append(_to_array(row[key], signature.input_dtype(key), where))
            if rows[-1].shape != rows[0].shape:
                raise invalid(f"{where} has shape {list(rows[-1].shape)} but "
                              f"{where.replace(f'[{position}]', '[0]', 1)} has {list(rows[0].shape)}: instances "
                              "must have equal shapes; right-pad rows to equal length")
        arrays[key] = np.stack(rows)
    return arrays


def _output_json(name: str, array: np.ndarray):
    if array.dtype.kind not in "OS":
        return array.tolist()

    def text(value: bytes):
        if not name.endswith("_bytes"):  # TF Serving's convention for binary string outputs
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return {_B64: base64.b64encode(value).decode("ascii")}

    return np.frompyfunc(text, 1, 1)(array).tolist() if array.size else array.tolist()


def predict(repository: ModelRepository, name: str, version: int | None, body: bytes) -> dict:
    """A :predict request body to TF Serving's response object (row in, row out; columnar in, columnar out)."""
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise invalid("JSON Parse error: the request body is not UTF-8") from None
    except RecursionError:
        raise invalid("JSON Parse error: the document is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error.msg} at line {error.lineno} column {error.colno}"
                      if body.strip() else "JSON Parse error: The document is empty") from None
    if not isinstance(request, dict):
        raise invalid(f"JSON Value: {_json_text(request)} Is not object")
    signature_name = request.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise invalid(f"'signature_name' must be a string, got {_json_text(signature_name)}")
    if ("instances" in request) == ("inputs" in request):
        raise invalid("Missing 'inputs' or 'instances' key" if "inputs" not in request else
                      "Not formatted correctly: expecting only one of 'inputs' or 'instances' keys to exist")
    unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise invalid(f"unknown key(s) {unknown} in the request; expected 'signature_name' and "
                      "'instances' or 'inputs'")
    signature = repository.servable(name, version).signature(signature_name)
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise invalid("Expecting 'instances' to be a list/array")
        if not instances:
            raise invalid("No values in 'instances' array")
        outputs = signature.run(_row_inputs(instances, signature))
        batch = {output: array.shape[0] if array.ndim else None for output, array in outputs.items()}
        if len(set(batch.values())) != 1 or None in batch.values():
            raise invalid(f"outputs of signature '{signature.name}' have different batch sizes {batch}; "
                          "use the columnar ('inputs') format")
        if len(outputs) == 1:
            (output, array), = outputs.items()
            return {"predictions": _output_json(output, array)}
        columns = {output: _output_json(output, array) for output, array in outputs.items()}
        return {"predictions": [{output: columns[output][row] for output in columns}
                                for row in range(next(iter(batch.values())))]}
    outputs = signature.run(_column_inputs(request["inputs"], signature))
    if len(outputs) == 1:
        (output, array), = outputs.items()
        return {"outputs": _output_json(output, array)}
    return {"outputs": {output: _output_json(output, array) for output, array in outputs.items()}}


def model_info(repository: ModelRepository, name: str | None, version: int | None, metadata: bool) -> dict:
    if not name:
        raise invalid("Missing model name in request.")
    if metadata:
        return metadata_json(repository.servable(name, version).metadata())
    return status_json(repository.status(name, version))


class _ApiHandler(tornado.web.RequestHandler):
    """Every path under /v1/, dispatched by TF Serving's own path patterns."""

    def initialize(self, repository: ModelRepository, executor: Executor):
        self.repository = repository
        self.executor = executor

    def _malformed(self) -> ServingError:
        return invalid(f"Malformed request: {self.request.method} {self.request.path} (this server answers "
                       "GET /v1/models/NAME[/versions/V][/metadata] and POST /v1/models/NAME[/versions/V]:predict)")

    async def get(self):
        match = _MODEL_PATH.fullmatch(self.request.path)
        if match is None:
            return self._reply_error(self._malformed())
        name, version, metadata = match.groups()
        await self._answer(model_info, self.repository, name and unquote(name), version and int(version),
                           metadata is not None)

    async def post(self):
        match = _PREDICT_PATH.fullmatch(self.request.path)
        if match is None:
            return self._reply_error(self._malformed())
        name, version = match.groups()
        await self._answer(predict, self.repository, unquote(name), version and int(version), self.request.body)

    async def _answer(self, handler, *args) -> None:
        try:
            body = await IOLoop.current().run_in_executor(self.executor, _encoded, handler, *args)
        except ServingError as error:
            return self._reply_error(error)
        except Exception as error:  # a bug: say so in one line, keep the traceback in the server log
            log.exception("REST request %s %s failed", self.request.method, self.request.path)
            return self._reply(500, {"error": f"internal error: {type(error).__name__}: {error}"})
        self._reply(200, body)

    def _reply_error(self, error: ServingError) -> None:
        self._reply(error.http_status, {"error": error.message})

    def _reply(self, status: int, body) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(body if isinstance(body, bytes) else json.dumps(body).encode())

    def write_error(self, status_code: int, **kwargs) -> None:
        """Tornado's own errors (unsupported method, unreadable request) in the same JSON shape, no traceback."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": f"{self._reason} ({self.request.method} {self.request.path})"}))


def _encoded(handler, *args) -> bytes:
    return json.dumps(handler(*args)).encode()


class _NotFoundHandler(_ApiHandler):
    def prepare(self):
        self._reply(404, {"error": f"Not found: {self.request.path} (TF Serving's API is under /v1/)"})


def make_app(repository: ModelRepository, executor: Executor) -> tornado.web.Application:
    arguments = {"repository": repository, "executor": executor}
    return tornado.web.Application([(r"/v1/.*", _ApiHandler, arguments)],
                                   default_handler_class=_NotFoundHandler, default_handler_args=arguments)
