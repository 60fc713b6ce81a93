"""A client for wherever the model is: a server URL (REST or gRPC) or a pushed model directory run in process."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from avrec.errors import AvrecError
from avrec.serving.client import ServingClient


def connect(url: str, model_name: str, timeout: float = 10.0) -> ServingClient:
    """http(s)://HOST:PORT for REST, grpc://HOST:PORT for gRPC."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        from avrec.serving.rest_client import RestClient

        return RestClient(url, model_name, timeout)
    if parts.scheme == "grpc" and parts.netloc:
        from avrec.serving.grpc_client import GrpcClient  # imports TensorFlow: only when gRPC is asked for

        return GrpcClient(parts.netloc, model_name, timeout)
    raise AvrecError(f"server URL must look like http://HOST:8501 (REST) or grpc://HOST:8500 (gRPC), got {url!r}")


def open_model(path: str | Path, model_name: str, warn=print) -> ServingClient:
    """The model at `path` (a version directory or a model base path: its newest loadable version), in process."""
    from avrec.serving.local_client import LocalClient

    return LocalClient(path, model_name, warn)
