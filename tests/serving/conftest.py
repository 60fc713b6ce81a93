"""The serving tests' model base path (synthetic contract models) and the servers and clients on it."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from avrec import contract
from avrec.serving.connect import connect, open_model
from avrec.serving.server import ModelServer
from server_process import official_server
from tests.support.serving import CATALOG_1, LOOPBACK, MODEL, publish

# Limits small enough for a test to cross each of them with a small request.
SMALL_LIMITS = LOOPBACK.replace(max_body_bytes=4096, max_batch=4, max_list_length=5, max_tensor_elements=12)


class NumericModule(tf.Module):
    """The numeric inputs the synthetic contract models lack: search_by_embedding's query_embedding [B, 8] (a
    fixed width above SMALL_LIMITS' list length), and a signature of each other JSON dtype."""

    ITEMS = np.arange(48, dtype=np.float32).reshape(6, 8) / 48

    @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    def search(self, query_embedding):
        top = tf.math.top_k(tf.matmul(query_embedding, self.ITEMS, transpose_b=True), k=3)
        return {contract.ITEM_IDS: tf.gather(tf.constant([f"i{n}" for n in range(6)]), top.indices),
                contract.SCORES: top.values}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.bool),
                                  tf.TensorSpec([None, None], tf.float64)])
    def typed(self, count, flag, weights):
        return {"total": tf.cast(count, tf.float64) * tf.cast(flag, tf.float64) + tf.reduce_sum(weights, axis=1)}

@pytest.fixture(scope="module")
def model_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("serving")
    (base / MODEL).mkdir()
    publish(CATALOG_1, base / MODEL, 1)
    return base


@pytest.fixture(scope="module")
def numeric_server(tmp_path_factory):
    """A server of NumericModule, under SMALL_LIMITS."""
    base = tmp_path_factory.mktemp("numeric")
    module = NumericModule()
    tf.saved_model.save(module, str(base / MODEL / "1"), signatures={
        contract.SEARCH_BY_EMBEDDING: module.search, "typed": module.typed})
    server = ModelServer(base, MODEL, SMALL_LIMITS).start()
    yield server
    server.stop()


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
