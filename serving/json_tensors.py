"""TF Serving's JSON tensor mapping (its json_tensor.cc), both ways: a :predict request body to numpy arrays, and
output arrays to JSON.

Decoding walks the request in Python anyway, so it checks every value on the way, against the signature's dtype and
the server's limits (avrec.serving.limits, on each tensor's shape before any value is read), and a refusal names
the field: `inputs['history'][1][0]`, `instances[3]['user_id']`. Output values that JSON cannot hold (NaN,
Infinity) are written as strings, as protobuf's JSON mapping writes them, so that every answer parses as JSON.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import sys

import numpy as np
import tensorflow as tf

from avrec.config import ServingConfig
from avrec.serving.limits import check_shape
from avrec.serving.protocol import invalid
from avrec.serving.servable import Signature

_B64 = "b64"
_MAX_RANK = 32  # numpy's limit
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def json_text(value, limit: int = 100) -> str:
    """At most about `limit` characters of `value` as JSON, without rendering all of a large or deep value."""
    if isinstance(value, (list, dict)):
        items = value.items() if isinstance(value, dict) else value
        parts, size = [], 2
        for item in items:
            if size >= limit:
                parts.append("...")
                break
            part = (f"{json_text(item[0], limit - size)}: {json_text(item[1], limit - size)}"
                    if isinstance(value, dict) else json_text(item, limit - size))
            parts.append(part)
            size += len(part) + 2
        brackets = "{}" if isinstance(value, dict) else "[]"
        return brackets[0] + ", ".join(parts) + brackets[1]
    if isinstance(value, str) and len(value) > limit:
        return json.dumps(value[:limit])[:limit] + "..."
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def parse(body: bytes) -> dict:
    """A request body as a JSON object; anything else is TF Serving's "JSON Parse error"."""
    try:
        request = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise invalid("JSON Parse error: the request body is not UTF-8") from None
    except RecursionError:
        raise invalid("JSON Parse error: the document is nested too deeply") from None
    except json.JSONDecodeError as error:
        raise invalid(f"JSON Parse error: {error.msg} at line {error.lineno} column {error.colno}"
                      if body.strip() else "JSON Parse error: The document is empty") from None
    except ValueError:  # the one other refusal: an integer literal longer than Python converts
        raise invalid(f"JSON Parse error: a number has more than {sys.get_int_max_str_digits()} digits") from None
    if not isinstance(request, dict):
        raise invalid(f"JSON Value: {json_text(request)} Is not object")
    return request


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64), str)


def _where(index: tuple) -> str:
    return "".join(f"[{i}]" for i in index)


def _converter(dtype: tf.DType, what: str):
    """The function that turns one JSON leaf (at an index, for errors) into a value of `dtype`."""

    def wrong_type(value, index):
        return invalid(f"{what}{_where(index)}: JSON value {json_text(value)} is not of expected type {dtype.name}")

    if dtype == tf.string:
        def string(value, index):
            if isinstance(value, str):
                try:
                    return value.encode("utf-8")
                except UnicodeEncodeError:
                    raise invalid(f"{what}{_where(index)}: {json_text(value)} is not valid Unicode (a lone "
                                  "surrogate); send binary data as {\"b64\": ...}") from None
            if _is_b64(value):
                try:
                    return base64.b64decode(value[_B64], validate=True)
                except (binascii.Error, ValueError):
                    raise invalid(f"{what}{_where(index)}: {json_text(value)} is not valid base64") from None
            raise wrong_type(value, index)
        return string
    if dtype == tf.bool:
        def boolean(value, index):
            if isinstance(value, bool):
                return value
            raise wrong_type(value, index)
        return boolean
    if dtype.is_floating:
        largest = float(dtype.max)

        def number(value, index):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise wrong_type(value, index)
            try:
                result = float(value)
            except OverflowError:  # an integer literal of hundreds of digits
                result = math.inf
            if not abs(result) <= largest:
                raise invalid(f"{what}{_where(index)}: {json_text(value)} is not a finite {dtype.name} (NaN, "
                              f"Infinity and numbers beyond +-{largest:.6g} are not)")
            return result
        return number
    if dtype.is_integer:
        low, high = int(dtype.min), int(dtype.max)

        def integer(value, index):
            if isinstance(value, int) and not isinstance(value, bool):
                if low <= value <= high:
                    return value
                raise invalid(f"{what}{_where(index)}: {json_text(value)} is out of range for {dtype.name} "
                              f"[{low}, {high}]")
            raise wrong_type(value, index)
        return integer
    raise invalid(f"{what}: inputs of type {dtype.name} are not supported over REST")


def _probe_shape(value, what: str) -> list[int]:
    """The shape a nested list claims along its first elements (the rest is checked while reading it)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    if len(shape) > _MAX_RANK:
        raise invalid(f"{what} is nested {len(shape)} lists deep; tensors have at most {_MAX_RANK} dimensions")
    return shape


def _to_array(value, signature: Signature, name: str, what: str, config: ServingConfig,
              rows: int | None = None) -> np.ndarray:
    """A (nested) JSON list as a dense array of input `name`; ragged nesting is an error that says where it is.
    `rows`: `value` is one of that many instances (see limits.check_shape)."""
    dtype = signature.input_dtype(name)
    convert = _converter(dtype, what)
    shape = _probe_shape(value, what)
    check_shape(what, shape, signature.inputs[name][1], config, rows)
    flat = []

    def visit(item, index: tuple) -> None:
        if isinstance(item, list):
            if len(index) == len(shape):
                raise invalid(f"{what}{_where(index)}: found a list where a value was expected "
                              f"(element {'[0]' * len(index)} is a value); nest all elements equally")
            if len(item) != shape[len(index)]:
                first = _where(index[:-1]) + "[0]" if index else ""
                raise invalid(f"{what}{_where(index)} has {len(item)} elements but {what}{first} has "
                              f"{shape[len(index)]}: ragged lists are not tensors; right-pad rows to equal length")
            for position, element in enumerate(item):
                visit(element, index + (position,))
        elif len(index) != len(shape):
            raise invalid(f"{what}{_where(index)}: found value {json_text(item)} where a list was expected "
                          f"(element {'[0]' * len(shape)} is nested {len(shape)} deep)")
        else:
            flat.append(convert(item, index))

    visit(value, ())
    return np.array(flat, dtype=object if dtype == tf.string else dtype.as_numpy_dtype).reshape(shape)


def column_inputs(columns, signature: Signature, config: ServingConfig) -> dict[str, np.ndarray]:
    """Columnar format: an object of name -> tensor, or the one input's tensor when the signature has just one."""
    if isinstance(columns, dict) and not _is_b64(columns):
        return {name: _to_array(value, signature, name, f"inputs['{name}']", config)
                for name, value in columns.items()}
    name = _only_input(signature, "'inputs'")
    return {name: _to_array(columns, signature, name, "inputs", config)}


def _only_input(signature: Signature, what: str) -> str:
    if len(signature.inputs) != 1:
        raise invalid(f"{what} holds plain values/lists, but signature '{signature.name}' has inputs "
                      f"{list(signature.inputs)}: send objects with one key per input")
    return next(iter(signature.inputs))


def row_inputs(instances: list, signature: Signature, config: ServingConfig) -> dict[str, np.ndarray]:
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
            rows.append(_to_array(row[key], signature, key, where, config, rows=len(instances)))
            if rows[-1].shape != rows[0].shape:
                raise invalid(f"{where} has shape {list(rows[-1].shape)} but "
                              f"{where.replace(f'[{position}]', '[0]', 1)} has {list(rows[0].shape)}: instances "
                              "must have equal shapes; right-pad rows to equal length")
        arrays[key] = np.stack(rows)
    return arrays


def _finite_json(array: np.ndarray) -> list:
    values = array.astype(object)
    values[~np.isfinite(array)] = [_NON_FINITE[str(value)] for value in array[~np.isfinite(array)].tolist()]
    return values.tolist()


def output_json(name: str, array: np.ndarray):
    """One output tensor as JSON: strings as text or {"b64": ...}, non-finite numbers as "NaN"/"Infinity"."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return _finite_json(array)
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


def encode(answer) -> bytes:
    """A response object as JSON; allow_nan=False because bare NaN is not JSON (output_json writes it as text)."""
    return json.dumps(answer, allow_nan=False).encode()
