"""TF Serving's protocol pieces shared by the REST and gRPC front ends and the clients.

Errors carry a gRPC status code, as in TF Serving, and map to HTTP statuses the way its HTTP server does; status and
metadata responses are rendered to JSON exactly as its REST API renders them, so that a client reading them cannot
tell this server from the official one.
"""
from __future__ import annotations

import grpc
from google.protobuf import json_format

SIGNATURE_DEF_FIELD = "signature_def"

# TF Serving's http_server.cc: ToHTTPStatusCode.
_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400, grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.ABORTED: 409, grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429, grpc.StatusCode.CANCELLED: 499, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.UNIMPLEMENTED: 501, grpc.StatusCode.UNAVAILABLE: 503,
}


def _one_line(text: str) -> str:
    """`text` with its unprintable characters (newlines, lone surrogates a client sent) escaped."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class ServingError(Exception):
    """A request the server answers with an error status; the message goes to the client, on one line."""

    def __init__(self, code: grpc.StatusCode, message: str):
        message = _one_line(message)
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.code, 500)


def invalid(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def _to_dict(message) -> dict:
    return json_format.MessageToDict(message, including_default_value_fields=True, preserving_proto_field_name=True)


def status_json(response) -> dict:
    """A GetModelStatusResponse as TF Serving's GET /v1/models/NAME returns it."""
    return _to_dict(response)


def metadata_json(response) -> dict:
    """A GetModelMetadataResponse as TF Serving's GET /v1/models/NAME/metadata returns it (the Any unpacked)."""
    from tensorflow_serving.apis import get_model_metadata_pb2

    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signatures)
    return {"model_spec": _to_dict(response.model_spec), "metadata": {SIGNATURE_DEF_FIELD: _to_dict(signatures)}}
