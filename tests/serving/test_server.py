"""The server's start-up: what it refuses, serving nothing until a first version is pushed, and `avrec serve`'s
defaults and flags."""
from __future__ import annotations

import psutil
import pytest
import requests

from avrec.errors import AvrecError
from avrec.serving.client import ServingRequestError
from avrec.serving.connect import connect
from avrec.serving.server import ModelServer
from server_process import avrec_server, wait_until
from tests.support.serving import CATALOG_2, K, LOOPBACK, MODEL, assert_items, expected_top_k, publish

def test_server_refuses_a_missing_model_directory_and_a_busy_port(tmp_path, avrec_server):
    with pytest.raises(AvrecError, match="no model directory .*nope"):
        ModelServer(tmp_path, "nope")
    (tmp_path / MODEL).mkdir()
    busy = ModelServer(tmp_path, MODEL, LOOPBACK.replace(rest_port=avrec_server.rest_port))
    with pytest.raises(AvrecError, match=f"cannot listen for REST on 127.0.0.1:{avrec_server.rest_port}"):
        busy.start()


def test_server_without_versions_answers_not_found_until_one_is_pushed(tmp_path):
    (tmp_path / MODEL).mkdir()
    with ModelServer(tmp_path, MODEL, LOOPBACK.replace(poll_seconds=0.1)) as server:
        with connect(f"http://127.0.0.1:{server.rest_port}", MODEL) as client:
            with pytest.raises(ServingRequestError, match="no version has loaded yet") as raised:
                client.similar("i1")
            assert raised.value.code == 404
            publish(CATALOG_2, tmp_path / MODEL, 7)
            wait_until(lambda: server.repository.current is not None)
            assert_items(client.similar("i1"), expected_top_k(CATALOG_2, CATALOG_2.item_embeddings[1], ["i1"], K))


def test_avrec_serve_starts_beside_stray_directories_on_the_loopback_interface_with_its_limit_flags(tmp_path):
    (tmp_path / MODEL).mkdir()
    for name in ("99999999999999999999", "\u00b2"):
        (tmp_path / MODEL / name).mkdir()
    publish(CATALOG_2, tmp_path / MODEL, 3)
    server = avrec_server(tmp_path, tmp_path / "serve.log", MODEL, "--max-batch", "2", "--poll-seconds", "0.2")
    try:
        server.wait_ready()
        with connect(server.rest_url, MODEL) as client:
            assert_items(client.similar("i1"), expected_top_k(CATALOG_2, CATALOG_2.item_embeddings[1], ["i1"], K))
        refused = requests.post(f"{server.rest_url}/v1/models/{MODEL}:predict", timeout=10,
                                json={"signature_name": "similar_items", "instances": ["i1", "i2", "i3"]})
        assert refused.json() == {"error": "'instances' has 3 instances; this server answers at most 2 per request "
                                           "(--max-batch)"}
        listening = {conn.laddr for conn in psutil.Process(server.process.pid).net_connections()
                     if conn.status == psutil.CONN_LISTEN}
        # grpcio's socket is an IPv6 one, bound to 127.0.0.1 as ::ffff:127.0.0.1
        assert {address.ip.removeprefix("::ffff:") for address in listening} == {"127.0.0.1"}
        assert {address.port for address in listening} >= {int(url.rsplit(":", 1)[1])
                                                           for url in (server.rest_url, server.grpc_url)}
    finally:
        assert server.stop() == 0
    log = (tmp_path / "serve.log").read_text()
    assert log.count("not a version directory") == 2 and "Traceback" not in log
