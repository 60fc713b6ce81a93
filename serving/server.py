"""The model server: one ModelRepository behind TF Serving's REST (tornado) and gRPC APIs, polled for new versions.

Like tensorflow_model_server it loads the newest version before it opens its ports, then keeps polling the model
directory. The REST event loop runs in its own thread so that tests and benchmarks can run a server in-process.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from avrec.config import ServingConfig
from avrec.errors import AvrecError
from avrec.serving.grpc_service import add_services
from avrec.serving.limits import RequestRunner
from avrec.serving.repository import ModelRepository
from avrec.serving.rest import http_server_options, make_app

log = logging.getLogger(__name__)


def _grpc_options(config: ServingConfig) -> list[tuple[str, int]]:
    """A request message is bounded like a REST body (grpcio answers RESOURCE_EXHAUSTED beyond); answers are not."""
    return [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", config.max_body_bytes)]


class ModelServer:
    """Serve the versions under `base_path/model_name`; ports 0 pick free ones (see `rest_port`, `grpc_port`)."""

    def __init__(self, base_path: str | Path, model_name: str, config: ServingConfig = ServingConfig()):
        self.repository = ModelRepository(base_path, model_name)
        if not self.repository.path.is_dir():
            raise AvrecError(f"no model directory {self.repository.path}: push a model there first "
                             "(avrec run --model-name NAME) or fix --model-base-path / --model-name")
        self.config = config
        self.host = config.host
        self.rest_port = config.rest_port
        self.grpc_port = config.grpc_port
        self.poll_seconds = config.poll_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._grpc: grpc.Server | None = None
        self._runner: RequestRunner | None = None
        self._rest_loop: asyncio.AbstractEventLoop | None = None
        self._rest_stop: asyncio.Event | None = None

    def start(self) -> "ModelServer":
        self.repository.poll()
        if self.repository.current is None:
            log.warning("no loadable version under %s yet; serving none until one is pushed", self.repository.path)
        try:
            sockets = bind_sockets(self.rest_port, self.host)
        except OSError as error:
            raise AvrecError(f"cannot listen for REST on {self.host}:{self.rest_port}: {error.strerror}") from None
        self.rest_port = sockets[0].getsockname()[1]
        self._runner = RequestRunner(self.config)
        # A thread per RPC, waiting for its work on the runner; beyond max_in_flight RPCs grpcio answers
        # RESOURCE_EXHAUSTED at once rather than queue them without bound.
        self._grpc = grpc.server(ThreadPoolExecutor(self.config.max_in_flight, thread_name_prefix="avrec-grpc"),
                                 options=_grpc_options(self.config),
                                 maximum_concurrent_rpcs=self.config.max_in_flight)
        add_services(self._grpc, self.repository, self._runner)
        try:
            self.grpc_port = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
        except RuntimeError as error:
            for sock in sockets:
                sock.close()
            raise AvrecError(f"cannot listen for gRPC on {self.host}:{self.grpc_port}: {error}") from None
        self._grpc.start()
        ready = threading.Event()
        self._spawn("avrec-rest", self._run_rest, sockets, ready)
        ready.wait()
        self._spawn("avrec-poll", self._poll_forever)
        return self

    def _spawn(self, name: str, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_rest(self, sockets, ready: threading.Event) -> None:
        async def serve():
            server = HTTPServer(make_app(self.repository, self._runner), **http_server_options(self.config))
            server.add_sockets(sockets)
            self._rest_loop = asyncio.get_running_loop()
            self._rest_stop = asyncio.Event()
            ready.set()
            await self._rest_stop.wait()
            server.stop()
            await server.close_all_connections()
            in_flight = asyncio.all_tasks() - {asyncio.current_task()}
            if in_flight:  # requests still being answered: let them finish rather than cancel them
                await asyncio.wait(in_flight, timeout=10)

        asyncio.run(serve())

    def _poll_forever(self) -> None:
        while not self._stopping.wait(self.poll_seconds):
            try:
                self.repository.poll()
            except Exception:  # never let a poll bug stop polling; the served version is untouched
                log.exception("polling %s failed", self.repository.path)

    def stop(self) -> None:
        self._stopping.set()
        if self._rest_loop is not None:
            self._rest_loop.call_soon_threadsafe(self._rest_stop.set)
        if self._grpc is not None:
            self._grpc.stop(grace=1).wait()
        for thread in self._threads:
            thread.join()
        if self._runner is not None:
            self._runner.shutdown()

    def serve_forever(self) -> None:
        """Block until SIGTERM or Ctrl-C, then stop."""
        signal.signal(signal.SIGTERM, lambda *_: self._stopping.set())
        try:
            self._stopping.wait()
        finally:
            self.stop()

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *_) -> None:
        self.stop()
