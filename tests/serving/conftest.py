"""The serving tests' model base path (synthetic contract models) and the servers and clients on it."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from avrec.serving.connect import connect, open_model
from avrec.serving.server import ModelServer
from server_process import official_server
from tests.support.serving import CATALOG_1, LOOPBACK, MODEL, publish

@pytest.fixture(scope="module")
def model_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("serving")
    (base / MODEL).mkdir()
    publish(CATALOG_1, base / MODEL, 1)
    return base


@pytest.fixture(scope="module")
def avrec_server(model_base):
    server = ModelServer(model_base, MODEL, LOOPBACK).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def official_urls(model_base, tmp_path_factory):
    """REST and gRPC URLs of tensorflow_model_server on the module's model, where it is installed."""
    if shutil.which("tensorflow_model_server") is None:
        pytest.skip("tensorflow_model_server is not on PATH (install TF Serving to run these tests against it)")
    official = official_server(model_base, tmp_path_factory.mktemp("official") / "server.log").wait_ready()
    yield {"rest": official.rest_url, "grpc": official.grpc_url}
    official.stop()


@pytest.fixture(scope="module")
def avrec_urls(avrec_server):
    return {"rest": f"http://127.0.0.1:{avrec_server.rest_port}", "grpc": f"grpc://127.0.0.1:{avrec_server.grpc_port}"}


@pytest.fixture(scope="module", params=["avrec", "tensorflow_model_server"])
def urls(request):
    """This project's server, then the official one where it is installed."""
    return request.getfixturevalue("avrec_urls" if request.param == "avrec" else "official_urls")


SERVERS = [(server, protocol) for server in ("avrec", "tensorflow_model_server") for protocol in ("rest", "grpc")]


@pytest.fixture(params=SERVERS, ids=[f"{server}-{protocol}" for server, protocol in SERVERS])
def server_client(request):
    server, protocol = request.param
    urls = request.getfixturevalue("avrec_urls" if server == "avrec" else "official_urls")
    with connect(urls[protocol], MODEL) as client:
        yield client


@pytest.fixture(params=[*SERVERS, ("in-process", "")],
                ids=[*(f"{server}-{protocol}" for server, protocol in SERVERS), "in-process"])
def client(request, model_base):
    """Every way to query a model: over REST and gRPC (this project's server, and the official one where it is
    installed) and in process, through the same code the server runs."""
    server, protocol = request.param
    if server == "in-process":
        with open_model(model_base / MODEL, MODEL) as client:
            yield client
        return
    urls = request.getfixturevalue("avrec_urls" if server == "avrec" else "official_urls")
    with connect(urls[protocol], MODEL) as client:
        yield client
