"""Shared pieces of the serving tests: numpy answers to check the server against, and server launchers."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import requests

import avrec  # noqa: F401  (before TensorFlow)
from avrec.serving.synthetic import SyntheticCatalog

MODEL = "avrec"
K = 10


def expected_top_k(catalog: SyntheticCatalog, query: np.ndarray, excluded: list[str], k: int):
    """The contract's answer computed with numpy: ids and scores of the top-k dot products, `excluded` left out."""
    scores = catalog.item_embeddings @ query
    index = {item: n for n, item in enumerate(catalog.item_ids)}
    scores[[index[item] for item in excluded if item in index]] = -np.inf
    top = np.argsort(-scores, kind="stable")[:k]
    return [str(catalog.item_ids[n]) for n in top], scores[top]


def user_query(catalog: SyntheticCatalog, user: str, history: list[str]) -> np.ndarray:
    items = {item: n for n, item in enumerate(catalog.item_ids)}
    users = {name: n for n, name in enumerate(catalog.user_ids)}
    known = [catalog.item_embeddings[items[item]] for item in history if item in items]
    if user not in users and not known:
        return catalog.cold_start_query
    query = catalog.user_embeddings[users[user]] if user in users else np.zeros_like(catalog.cold_start_query)
    return query + (np.mean(known, axis=0) if known else 0)


def expected_recommend(catalog, user, history=(), k=K, exclude=()):
    return expected_top_k(catalog, user_query(catalog, user, list(history)), list(history) + list(exclude), k)


def assert_items(answer: list[tuple[str, float]], expected) -> None:
    ids, scores = expected
    assert [item for item, _ in answer] == ids
    np.testing.assert_allclose([score for _, score in answer], scores, rtol=1e-4, atol=1e-4)


def publish(catalog: SyntheticCatalog, model_dir: Path, version: int, k: int = K) -> Path:
    """Push a version the way a pusher should: write it aside, then rename it into place in one step."""
    staging = model_dir.parent / f".staging-{uuid.uuid4().hex}"
    catalog.save_model(staging, k=k)
    target = model_dir / str(version)
    os.rename(staging, target)
    return target


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
    """A model server in a subprocess (`avrec serve` or tensorflow_model_server), ready once its status answers."""

    def __init__(self, command: list[str], rest_port: int, grpc_port: int, log_path: Path):
        self.rest_url = f"http://127.0.0.1:{rest_port}"
        self.grpc_url = f"grpc://127.0.0.1:{grpc_port}"
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self.log_path = log_path

    def wait_ready(self, timeout: float = 120.0) -> "ServerProcess":
        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                return requests.get(f"{self.rest_url}/v1/models/{MODEL}", timeout=1).status_code == 200
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


def official_server(base_path: Path, log_path: Path) -> ServerProcess:
    rest_port, grpc_port = free_port(), free_port()
    return ServerProcess([shutil.which("tensorflow_model_server"), f"--port={grpc_port}",
                          f"--rest_api_port={rest_port}", f"--model_name={MODEL}",
                          f"--model_base_path={base_path / MODEL}", "--file_system_poll_wait_seconds=1"],
                         rest_port, grpc_port, log_path)
