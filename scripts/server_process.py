"""A model server in a subprocess (`avrec serve` or tensorflow_model_server), ready once its status answers: what
the serving benchmark and the serving tests launch."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

MODEL = "avrec"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float = 60.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


class ServerProcess:
    def __init__(self, command: list[str], rest_port: int, grpc_port: int, log_path: Path, model: str = MODEL):
        self.rest_url = f"http://127.0.0.1:{rest_port}"
        self.grpc_url = f"grpc://127.0.0.1:{grpc_port}"
        self.model = model
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_ready(self, timeout: float = 120.0) -> "ServerProcess":
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                return requests.get(f"{self.rest_url}/v1/models/{self.model}", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(ready, timeout, 0.25)
        return self

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=30)
        finally:
            self._log.close()


def avrec_server(base_path: Path, log_path: Path, model: str = MODEL, *extra: str) -> ServerProcess:
    """`avrec serve` on base_path, on free ports of its default host, the loopback interface (not yet ready: call
    wait_ready)."""
    rest_port, grpc_port = free_port(), free_port()
    return ServerProcess([sys.executable, "-m", "avrec.cli", "serve", "--model-base-path", str(base_path),
                          "--model-name", model, "--rest-port", str(rest_port), "--grpc-port", str(grpc_port),
                          *extra], rest_port, grpc_port, log_path, model)


def official_server(base_path: Path, log_path: Path, model: str = MODEL) -> ServerProcess:
    """tensorflow_model_server on base_path, where it is installed."""
    rest_port, grpc_port = free_port(), free_port()
    return ServerProcess([shutil.which("tensorflow_model_server"), f"--port={grpc_port}",
                          f"--rest_api_port={rest_port}", f"--model_name={model}",
                          f"--model_base_path={base_path / model}", "--file_system_poll_wait_seconds=1"],
                         rest_port, grpc_port, log_path, model)
