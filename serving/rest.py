"""TF Serving's REST API over a ModelRepository, on tornado.

Paths, payloads and errors follow TF Serving's HTTP handler: GET /v1/models/NAME[/versions/V][/metadata],
POST /v1/models/NAME[/versions/V]:predict with "instances" (row) or "inputs" (columnar) tensors (json_tensors), and
{"error": "..."} bodies with its status-code mapping. A request takes its place among those in flight once its
headers are in, so that bodies being received count too; the body is streamed in, so that one over the limit is
answered 413 without being read. Decoding, inference and encoding run on the request runner's threads, so the event
loop only moves bytes.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import Future
from urllib.parse import unquote

import tornado.web

from avrec.config import ServingConfig
from avrec.serving import json_tensors
from avrec.serving.limits import LARGE_REQUEST, RequestRunner, Slot
from avrec.serving.protocol import ServingError, invalid, metadata_json, status_json
from avrec.serving.repository import ModelRepository

log = logging.getLogger(__name__)

# TF Serving's own patterns (RE2's \d is ASCII, unlike Python's).
_PREDICT_PATH = re.compile(r"/v1/models/([^/:]+)(?:/versions/([0-9]+))?:predict", re.IGNORECASE)
_MODEL_PATH = re.compile(r"/v1/models(?:/([^/:]+))?(?:/versions/([0-9]+))?(/metadata)?", re.IGNORECASE)
# Tornado's own body limit would close the connection without an answer: the handler enforces the real one.
_UNBOUNDED = 1 << 62


def predict(repository: ModelRepository, config: ServingConfig, name: str, version: int | None,
            body: bytes) -> dict:
    """A :predict request body to TF Serving's response object (row in, row out; columnar in, columnar out)."""
    request = json_tensors.parse(body)
    signature_name = request.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise invalid(f"'signature_name' must be a string, got {json_tensors.json_text(signature_name)}")
    if ("instances" in request) == ("inputs" in request):
        raise invalid("Missing 'inputs' or 'instances' key" if "inputs" not in request else
                      "Not formatted correctly: expecting only one of 'inputs' or 'instances' keys to exist")
    unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
    if unknown:
        raise invalid(f"unknown key(s) {unknown[:10]}{' ...' * (len(unknown) > 10)} in the request; expected "
                      "'signature_name' and 'instances' or 'inputs'")
    signature = repository.servable(name, version).signature(signature_name)
    if "inputs" in request:
        outputs = signature.run(json_tensors.column_inputs(request["inputs"], signature, config))
        if len(outputs) == 1:
            (output, array), = outputs.items()
            return {"outputs": json_tensors.output_json(output, array)}
        return {"outputs": {output: json_tensors.output_json(output, array) for output, array in outputs.items()}}
    instances = request["instances"]
    if not isinstance(instances, list):
        raise invalid("Expecting 'instances' to be a list/array")
    if not instances:
        raise invalid("No values in 'instances' array")
    outputs = signature.run(json_tensors.row_inputs(instances, signature, config))
    batch = {output: array.shape[0] if array.ndim else None for output, array in outputs.items()}
    if len(set(batch.values())) != 1 or None in batch.values():
        raise invalid(f"outputs of signature '{signature.name}' have different batch sizes {batch}; "
                      "use the columnar ('inputs') format")
    if len(outputs) == 1:
        (output, array), = outputs.items()
        return {"predictions": json_tensors.output_json(output, array)}
    columns = {output: json_tensors.output_json(output, array) for output, array in outputs.items()}
    return {"predictions": [{output: columns[output][row] for output in columns}
                            for row in range(next(iter(batch.values())))]}


def model_info(repository: ModelRepository, name: str | None, version: int | None, metadata: bool) -> dict:
    if not name:
        raise invalid("Missing model name in request.")
    if metadata:
        return metadata_json(repository.servable(name, version).metadata())
    return status_json(repository.status(name, version))


def _encoded(handler, *args) -> bytes:
    return json_tensors.encode(handler(*args))


@tornado.web.stream_request_body
class _ApiHandler(tornado.web.RequestHandler):
    """Every path under /v1/, dispatched by TF Serving's own path patterns."""

    def initialize(self, repository: ModelRepository, runner: RequestRunner):
        self.repository = repository
        self.runner = runner
        self._slot: Slot | None = None
        self._work: Future | None = None
        self._chunks: list[bytes] = []
        self._received = 0

    def prepare(self):
        try:
            self._slot = self.runner.admit()
        except ServingError as error:
            return self._reply_error(error)
        try:
            declared = int(self.request.headers.get("Content-Length", "0"))
        except ValueError:  # tornado refuses it when it reads the body
            return
        if declared > self.runner.config.max_body_bytes:
            self._too_large(f"request body of {declared} bytes")

    def data_received(self, chunk: bytes) -> None:
        """Collect the body (tornado passes nothing more once an answer is sent); a chunked body over the limit
        is answered 413 as soon as it passes it."""
        self._received += len(chunk)
        if self._received > self.runner.config.max_body_bytes:
            self._chunks = []
            return self._too_large("chunked request body")
        self._chunks.append(chunk)

    def _too_large(self, what: str) -> None:
        self._reply(413, {"error": f"{what} is over this server's limit of {self.runner.config.max_body_bytes} "
                                   "bytes (--max-body-bytes)"})

    def _malformed(self) -> ServingError:
        return invalid(f"Malformed request: {self.request.method} {self.request.path} (this server answers "
                       "GET /v1/models/NAME[/versions/V][/metadata] and POST /v1/models/NAME[/versions/V]:predict)")

    async def get(self):
        match = _MODEL_PATH.fullmatch(self.request.path)
        if match is None:
            return self._reply_error(self._malformed())
        name, version, metadata = match.groups()
        await self._answer(False, model_info, self.repository, name and unquote(name), version and int(version),
                           metadata is not None)

    async def post(self):
        match = _PREDICT_PATH.fullmatch(self.request.path)
        if match is None:
            return self._reply_error(self._malformed())
        name, version = match.groups()
        body, self._chunks = b"".join(self._chunks), []
        await self._answer(len(body) >= LARGE_REQUEST, predict, self.repository, self.runner.config,
                           unquote(name), version and int(version), body)

    async def _answer(self, large: bool, handler, *args) -> None:
        self._work = self.runner.submit(self._slot, large, _encoded, handler, *args)
        try:
            body = await asyncio.wait_for(asyncio.wrap_future(self._work), self.runner.timeout)
        except TimeoutError:  # the work is cancelled if it has not started; its slot is held until it ends
            return self._reply_error(self.runner.timed_out(self.runner.timeout))
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

    def _leave(self) -> None:
        """Give up the request's place unless its work holds it (until that work ends)."""
        if self._slot is not None and self._work is None:
            self._slot.release()

    def on_finish(self) -> None:
        self._leave()

    def on_connection_close(self) -> None:
        super().on_connection_close()
        self._leave()

    def write_error(self, status_code: int, **kwargs) -> None:
        """Tornado's own errors (unsupported method, unreadable request) in the same JSON shape, no traceback."""
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": f"{self._reason} ({self.request.method} {self.request.path})"}))


class _NotFoundHandler(_ApiHandler):
    def prepare(self):
        self._reply(404, {"error": f"Not found: {self.request.path} (TF Serving's API is under /v1/)"})


def make_app(repository: ModelRepository, runner: RequestRunner) -> tornado.web.Application:
    arguments = {"repository": repository, "runner": runner}
    return tornado.web.Application([(r"/v1/.*", _ApiHandler, arguments)],
                                   default_handler_class=_NotFoundHandler, default_handler_args=arguments)


def http_server_options(config: ServingConfig) -> dict:
    """HTTPServer settings: bodies are bounded by the handler, and one still arriving after the request timeout
    closes its connection."""
    return {"max_body_size": _UNBOUNDED, "body_timeout": config.request_timeout_seconds}
